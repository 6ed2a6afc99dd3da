# SPDX-License-Identifier: LGPL-2.1-or-later
"""marina's networks page against a real marinad that makes its bridges and
dnsmasq inside a network namespace of the test's own: a network created
through the New Network dialog (name typed through X, the rest through the
fill-new-network test hook, Create pressed with its mnemonic) and listed,
its DHCP range and lease time changed on the page and read back from
marinad, and its leases shown."""

import os
import re

import pytest
from console_harness import distinct_colours, load_png
from gi.repository import GLib
from marina_harness import (MANAGER_IFACE, MANAGER_PATH, Marinad, NetNs, kill_machines,
                            kill_networks, remove_cgroups, wait_until)
from test_manager import keep

NETWORK_IFACE = "org.marinavm.Marina1.Network"


@pytest.fixture
def netns():
    namespace = NetNs()
    yield namespace
    namespace.delete()


@pytest.fixture
def netns_marinad(bus, workdir, netns):
    service = Marinad(bus, workdir, netns=netns).start()
    yield service
    service.stop()
    kill_machines(service)
    kill_networks(service)
    remove_cgroups(service.cgroup_name)
    print("---- marinad's log ----\n" + service.log())


def fill(app, action, **values):
    def variant(value):
        if isinstance(value, bool):
            return GLib.Variant("b", value)
        return GLib.Variant("i" if isinstance(value, int) else "s", value)
    app.activate(action, GLib.Variant("a{sv}", {key.replace("_", "-"): variant(value)
                                                for key, value in values.items()}))


def test_create_a_network_change_its_dhcp_and_see_leases(netns_marinad, netns, manager,
                                                         workdir):
    marinad = netns_marinad
    app = manager()
    app.wait_log("networks: 0 listed")
    app.activate("show-page", GLib.Variant("s", "networks"))
    empty = keep(app.save_picture(os.path.join(workdir, "manager-networks-empty.png")))
    assert distinct_colours(load_png(empty)) > 10, "the empty networks page is blank"

    app.activate("new-network")
    window = app.xdotool("search", "--sync", "--name", "^New Network$").split()[-1]
    app.xdotool("windowfocus", "--sync", window)
    app.xdotool("type", "--delay", "40", "lab")
    fill(app, "fill-new-network", kind="Host only", address="10.88.7.1", prefix=24,
         first="10.88.7.100", last="10.88.7.150")
    dialog = keep(app.save_picture(os.path.join(workdir, "manager-new-network.png"),
                                   "network-dialog"))
    assert distinct_colours(load_png(dialog)) > 10, "the New Network dialog is blank"
    app.xdotool("windowfocus", "--sync", window)
    app.xdotool("key", "alt+r")
    app.wait_log("new network: created")
    [network] = marinad.manager("ListNetworks")
    assert marinad.prop(network, NETWORK_IFACE, "Kind") == "host"
    assert marinad.prop(network, NETWORK_IFACE, "DhcpRange") == ("10.88.7.100", "10.88.7.150")
    bridge = marinad.prop(network, NETWORK_IFACE, "Bridge")
    # Listed as a person reads it, and really there in the namespace.
    app.wait_log(f"networks: row lab: Host only, bridge {bridge}, 10.88.7.1/24, active")
    assert "10.88.7.1/24" in netns.run("ip", "-4", "addr", "show", "dev", bridge).stdout
    app.wait_log("networks: selected lab")
    app.wait_log("networks: 0 leases")

    # DHCP settings edited on the page and applied with Configure.
    fill(app, "fill-dhcp", first="10.88.7.20", last="10.88.7.40", lease_time=600)
    app.activate("configure-network")
    wait_until(lambda: marinad.prop(network, NETWORK_IFACE, "DhcpRange")
               == ("10.88.7.20", "10.88.7.40"), 30, "the new range")
    assert marinad.prop(network, NETWORK_IFACE, "LeaseTime") == 600
    config = marinad.call(network, NETWORK_IFACE, "GetConfig")
    assert "10.88.7.20" in config and "10.88.7.40" in config
    page = keep(app.save_picture(os.path.join(workdir, "manager-networks.png")))
    assert distinct_colours(load_png(page)) > 10, "the networks page is blank"

    # A refusal in marinad's words: a range outside the network.
    fill(app, "fill-dhcp", first="192.0.2.10", last="192.0.2.20")
    app.activate("configure-network")
    app.wait_log("networks: ")
    wait_until(lambda: re.search(r"message: .*192\.0\.2", app.log()), 30, "the refusal")
    assert marinad.prop(network, NETWORK_IFACE, "DhcpRange") == ("10.88.7.20", "10.88.7.40")
