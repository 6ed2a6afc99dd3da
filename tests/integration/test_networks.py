# SPDX-License-Identifier: LGPL-2.1-or-later
"""Virtual networks with the real marinad, real QEMU guests, real dnsmasq and
nftables, all inside network namespaces the tests make."""

import contextlib
import os
import re
import shutil
import signal
import time

import pytest
from gi.repository import GLib

from marina_harness import (MACHINE_IFACE, NETWORK_MANAGER, Marinad, NetNs,
                            NetworkManagerDaemon, dbus_error_name, kill_machines,
                            kill_networks, open_serial, pid_alive, read_file, remove_cgroups,
                            serial_roundtrip, variant_options, wait_until)

NETWORK_IFACE = "org.marinavm.Marina1.Network"


@pytest.fixture
def netns():
    namespace = NetNs()
    yield namespace
    namespace.delete()


def marinad_in(netns, bus, workdir, env=None):
    """marinad in the test's namespace; what it leaves running is stopped after."""
    service = Marinad(bus, workdir, netns=netns, env=env).start()
    yield service
    service.stop()
    kill_machines(service)
    kill_networks(service)
    remove_cgroups(service.cgroup_name)
    print("---- marinad's log ----\n" + service.log())


@pytest.fixture
def marinad(bus, workdir, netns):
    yield from marinad_in(netns, bus, workdir)


def create_network(marinad, name, **options):
    return marinad.manager("CreateNetwork", "sa{sv}", name, network_options(options))


def network_options(options):
    result = variant_options({k: v for k, v in options.items()
                              if k not in ("prefix", "lease_time", "dhcp_range", "reservations")})
    for key in ("prefix", "lease_time"):
        if key in options:
            result[key.replace("_", "-")] = GLib.Variant("u", options[key])
    if "dhcp_range" in options:
        result["dhcp-range"] = GLib.Variant("(ss)", options["dhcp_range"])
    if "reservations" in options:
        result["reservations"] = GLib.Variant("a(sss)", options["reservations"])
    return result


def network_call(marinad, path, method, signature=None, *args):
    return marinad.call(path, NETWORK_IFACE, method, signature, *args)


def network_prop(marinad, path, name):
    return marinad.prop(path, NETWORK_IFACE, name)


def add_adapter(marinad, machine, **options):
    values = {}
    for key, value in options.items():
        values[key] = GLib.Variant("o", value) if key == "network" else value
    return marinad.machine(machine, "AddNetworkAdapter", "a{sv}", variant_options(values))


def guest_on(marinad, disk, name, network, **adapter):
    machine = marinad.create(name, memory_mib=128, boot_disk=disk())
    add_adapter(marinad, machine, network=network, **adapter)
    return machine


def start(marinad, machine):
    assert marinad.wait_job(marinad.machine(machine, "Start"))[0] == "completed"


def guest_address(marinad, machine, timeout=90):
    log = marinad.prop(machine, MACHINE_IFACE, "SerialLogPath")
    found = wait_until(lambda: re.search(r"MARINA-GUEST-IP (\S+) (\S+)", read_file(log)),
                       timeout, "the guest's DHCP lease")
    return found.group(2)


def guest_pings(marinad, machine, address):
    sock = open_serial(marinad, machine)
    try:
        return serial_roundtrip(sock, f"ping -c 1 -W 3 {address} >/dev/null && echo PING-OK-$((6*7))",
                                "PING-OK-42", timeout=40)
    finally:
        sock.close()


def in_range(address, first, last):
    def number(text):
        return tuple(int(part) for part in text.split("."))
    return number(first) <= number(address) <= number(last)


def expect_error(name, call, *args, **kwargs):
    with pytest.raises(GLib.Error) as info:
        call(*args, **kwargs)
    assert dbus_error_name(info.value) == f"org.marinavm.Marina1.Error.{name}", info.value.message
    return info.value.message


# ---- host-only ----

def test_host_network_gives_guests_addresses_and_the_host_reaches_them(marinad, disk, netns):
    network = create_network(marinad, "lab", kind="host", address="10.88.1.1", prefix=24,
                             dhcp_range=("10.88.1.100", "10.88.1.120"))
    assert network_prop(marinad, network, "Active") is True
    bridge = network_prop(marinad, network, "Bridge")
    assert "10.88.1.1/24" in netns.run("ip", "-4", "addr", "show", "dev", bridge).stdout

    first = guest_on(marinad, disk, "one", network)
    second = guest_on(marinad, disk, "two", network)
    start(marinad, first)
    start(marinad, second)
    addresses = [guest_address(marinad, first), guest_address(marinad, second)]
    assert all(in_range(a, "10.88.1.100", "10.88.1.120") for a in addresses), addresses
    assert addresses[0] != addresses[1]

    leases = network_call(marinad, network, "GetLeases")
    macs = {nic[1] for m in (first, second)
            for nic in marinad.prop(m, MACHINE_IFACE, "NetworkAdapters")}
    assert {lease[0] for lease in leases} == macs
    assert {lease[1] for lease in leases} == set(addresses)
    assert sorted(network_prop(marinad, network, "AttachedMachines")) == sorted([first, second])

    assert netns.succeeds("ping", "-c", "1", "-W", "3", addresses[0])
    assert guest_pings(marinad, first, addresses[1])


# ---- internal ----

def test_internal_network_connects_machines_only(marinad, disk, netns):
    network = create_network(marinad, "wire", kind="internal", address="10.89.0.1", prefix=24)
    bridge = network_prop(marinad, network, "Bridge")
    # The host has no address on it: the DHCP server sits in a namespace of its own.
    assert "inet " not in netns.run("ip", "-4", "addr", "show", "dev", bridge).stdout

    first = guest_on(marinad, disk, "a", network)
    second = guest_on(marinad, disk, "b", network)
    start(marinad, first)
    start(marinad, second)
    address_a, address_b = guest_address(marinad, first), guest_address(marinad, second)
    assert in_range(address_a, "10.89.0.128", "10.89.0.254")
    assert guest_pings(marinad, first, address_b)
    assert not netns.succeeds("ping", "-c", "1", "-W", "1", address_a)


# ---- NAT ----

@pytest.fixture
def outside(netns):
    """A second namespace as "the internet": a veth from marinad's namespace,
    which routes to it by default."""
    world = NetNs("mo")
    netns.run("ip", "link", "add", "uplink", "type", "veth", "peer", "name", "world",
              "netns", world.name)
    netns.run("ip", "addr", "add", "192.0.2.1/24", "dev", "uplink")
    netns.run("ip", "link", "set", "uplink", "up")
    netns.run("ip", "route", "add", "default", "via", "192.0.2.2")
    world.run("ip", "addr", "add", "192.0.2.2/24", "dev", "world")
    world.run("ip", "link", "set", "world", "up")
    yield world
    world.delete()


def test_nat_network_reaches_outside_masqueraded(marinad, disk, netns, outside):
    network = create_network(marinad, "nat", kind="nat", address="10.90.0.1",
                             dns_servers=["10.90.0.53", "192.0.2.53"])
    table = "marina_" + network.rsplit("/", 1)[1][:8]
    assert netns.succeeds("nft", "list", "table", "ip", table)
    assert network_prop(marinad, network, "Gateway") == "10.90.0.1"
    machine = guest_on(marinad, disk, "out", network)
    start(marinad, machine)
    guest_address(marinad, machine)
    # What DHCP told the guest: the host as its router, the DNS servers given.
    sock = open_serial(marinad, machine)
    try:
        serial_roundtrip(sock, "ip route | grep -q 'default via 10.90.0.1' && "
                               "grep -q 192.0.2.53 /etc/resolv.conf && echo OFFERED-$((5*5))",
                         "OFFERED-25")
    finally:
        sock.close()
    # The outside namespace has no route to 10.90.0.0/24: only masquerading
    # (the replies go to 192.0.2.1) lets the ping come back.
    assert guest_pings(marinad, machine, "192.0.2.2")

    expect_error("Busy", network_call, marinad, network, "Stop", "a{sv}", {})
    marinad.machine(machine, "TurnOff")
    marinad.wait_state(machine, "off")
    network_call(marinad, network, "Stop", "a{sv}", {})
    assert network_prop(marinad, network, "Active") is False
    assert not netns.succeeds("nft", "list", "table", "ip", table)
    assert not netns.succeeds("ip", "link", "show", network_prop(marinad, network, "Bridge"))


# ---- the DHCP server is supervised; networks survive marinad ----

def dnsmasq_pid(marinad, network):
    path = os.path.join(marinad.state_dir, "run", "networks", network.rsplit("/", 1)[1],
                        "dnsmasq.pid")
    text = read_file(path).strip()
    return int(text) if text else 0


def test_dnsmasq_killed_comes_back_with_an_event(marinad, netns):
    network = create_network(marinad, "dhcp", kind="host", address="10.91.0.1")
    old = dnsmasq_pid(marinad, network)
    assert old and pid_alive(old)
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: dnsmasq_pid(marinad, network) not in (0, old), 20, "a new dnsmasq")
    assert pid_alive(dnsmasq_pid(marinad, network))
    assert network_prop(marinad, network, "DhcpRunning") is True
    messages = [e[4] for e in marinad.events(object=network)]
    assert any("DHCP server (dnsmasq) ended unexpectedly" in m for m in messages), messages


def test_restart_of_marinad_keeps_networks_and_machines(marinad, disk, netns):
    network = create_network(marinad, "keep", kind="host", address="10.92.0.1")
    machine = guest_on(marinad, disk, "stays", network)
    start(marinad, machine)
    address = guest_address(marinad, machine)
    marinad.stop()
    assert netns.succeeds("ping", "-c", "1", "-W", "3", address)  # nothing went down
    marinad.start()
    assert network_prop(marinad, network, "Active") is True
    assert marinad.state(machine) == "running"
    assert netns.succeeds("ping", "-c", "1", "-W", "3", address)
    assert pid_alive(dnsmasq_pid(marinad, network))
    assert network_prop(marinad, network, "Name") == "keep"


# ---- moving and unplugging adapters while running ----

def test_adapter_moves_and_unplugs_while_running(marinad, disk, netns):
    first = create_network(marinad, "first", kind="host", address="10.93.0.1")
    second = create_network(marinad, "second", kind="host", address="10.94.0.1")
    machine = guest_on(marinad, disk, "mover", first)
    start(marinad, machine)
    address = guest_address(marinad, machine)
    assert address.startswith("10.93.0.")
    marinad.machine(machine, "ConfigureNetworkAdapter", "sa{sv}", "nic0",
                    {"connected": GLib.Variant("b", False)})
    assert marinad.prop(machine, MACHINE_IFACE, "NetworkAdapters")[0][4] is False
    assert not netns.succeeds("ping", "-c", "1", "-W", "2", address)
    marinad.machine(machine, "ConfigureNetworkAdapter", "sa{sv}", "nic0",
                    {"connected": GLib.Variant("b", True), "network": GLib.Variant("o", second)})
    bridge = network_prop(marinad, second, "Bridge")
    tap = "mrt" + machine.rsplit("/", 1)[1][:8] + "0"
    assert f"master {bridge}" in netns.run("ip", "link", "show", tap).stdout
    assert network_prop(marinad, second, "AttachedMachines") == [machine]


# ---- refusals ----

def test_refusals(marinad, disk, netns):
    network = create_network(marinad, "only", kind="host", address="10.95.0.1")
    machine = marinad.create("full", memory_mib=128, boot_disk=disk())
    for _ in range(4):
        add_adapter(marinad, machine, network=network)
    message = expect_error("InsufficientResources", add_adapter, marinad, machine)
    assert "4 network adapters" in message
    mac = marinad.prop(machine, MACHINE_IFACE, "NetworkAdapters")[0][1]
    other = marinad.create("other", memory_mib=128, boot_disk=disk())
    message = expect_error("Exists", add_adapter, marinad, other, mac=mac)
    assert "'full'" in message
    expect_error("InvalidArgument", add_adapter, marinad, other, mac="01:00:5e:00:00:01")
    expect_error("InvalidArgument", add_adapter, marinad, other, model="rtl8139")
    expect_error("NotFound", add_adapter, marinad, other,
                 network="/org/marinavm/Marina1/Network/" + "0" * 32)
    expect_error("InvalidArgument", add_adapter, marinad, other, colour="blue")

    message = expect_error("Busy", network_call, marinad, network, "Delete")
    assert "'full'" in message
    expect_error("Exists", create_network, marinad, "only", kind="host", address="10.96.0.1")
    expect_error("Exists", create_network, marinad, "same-subnet", kind="host",
                 address="10.95.0.9")
    expect_error("InvalidArgument", create_network, marinad, "bad", kind="bridge")
    expect_error("InvalidArgument", create_network, marinad, "bad", address="10.97.0.1",
                 dhcp_range=("10.97.0.200", "10.97.0.100"))
    expect_error("InvalidArgument", create_network, marinad, "bad\nname")
    expect_error("InvalidArgument", create_network, marinad, "bad", bridge="br0,x")
    expect_error("NotFound", create_network, marinad, "ext", kind="external",
                 host_interface="nosuch0")
    assert [p for p in marinad.manager("ListNetworks")] == [network]

    # Nothing half-made was left by the refusals.
    assert sorted(os.listdir(os.path.join(marinad.state_dir, "networks"))) == sorted(
        [network.rsplit("/", 1)[1] + suffix for suffix in (".xml", ".active", ".leases")])

    start(marinad, other)
    message = expect_error("InvalidState", add_adapter, marinad, other)
    assert "turn it off" in message


# ---- PXE ----

def test_pxe_boot_from_the_networks_tftp_server(marinad, guest_image, workdir, netns):
    """No disk at all: iPXE gets the guest's kernel and initrd from dnsmasq's TFTP."""
    root = os.path.join(workdir, "tftp")
    os.makedirs(root)
    # dnsmasq serves TFTP as an unprivileged user: the files must be world-readable.
    os.chmod(workdir, 0o755)
    for name in ("vmlinuz", "initrd.img"):
        shutil.copy(os.path.join(os.path.dirname(guest_image), name), root)
    with open(os.path.join(root, "boot.ipxe"), "w") as f:
        f.write("#!ipxe\nkernel vmlinuz console=ttyS0,115200 quiet\ninitrd initrd.img\nboot\n")
    missing = expect_error("NotFound", create_network, marinad, "pxe", kind="host",
                           address="10.98.0.1", pxe_root=root + "/nope", pxe_boot_file="boot.ipxe")
    assert "nope" in missing
    network = create_network(marinad, "pxe", kind="host", address="10.98.0.1",
                             pxe_root=root, pxe_boot_file="boot.ipxe")
    assert network_prop(marinad, network, "Pxe") == (root, "boot.ipxe")
    machine = marinad.create("netboot", memory_mib=256, boot_order=["network"])
    add_adapter(marinad, machine, network=network)
    start(marinad, machine)
    # The kernel that booted over the network runs the guest's init.
    log = marinad.prop(machine, MACHINE_IFACE, "SerialLogPath")
    wait_until(lambda: "MARINA-GUEST-READY" in read_file(log), 150, "the PXE-booted guest")
    assert guest_address(marinad, machine).startswith("10.98.0.")


# ---- external ----

@contextlib.contextmanager
def office_network(netns, interface):
    """A veth named @interface plays the host's Ethernet card; a DHCP server
    on its far side (another namespace) plays the office network."""
    office = NetNs("mx")
    try:
        netns.run("ip", "link", "add", interface, "type", "veth", "peer", "name", "lan",
                  "netns", office.name)
        office.run("ip", "addr", "add", "198.51.100.1/24", "dev", "lan")
        office.run("ip", "link", "set", "lan", "up")
        server = subprocess_in(office, ["dnsmasq", "--keep-in-foreground", "--port=0",
                                        "--interface=lan", "--bind-interfaces", "--pid-file=",
                                        "--dhcp-range=198.51.100.50,198.51.100.60,12h",
                                        "--dhcp-leasefile=/dev/null"])
        try:
            yield office
        finally:
            server.kill()
            server.wait()
    finally:
        office.delete()

def guest_reaches_the_office(marinad, disk, network, office):
    """A guest on the bridged network gets its address from the office's
    DHCP server and answers the office's ping; then it is turned off."""
    machine = guest_on(marinad, disk, "bridged", network)
    start(marinad, machine)
    address = guest_address(marinad, machine)
    assert in_range(address, "198.51.100.50", "198.51.100.60")
    assert office.succeeds("ping", "-c", "1", "-W", "3", address)
    marinad.machine(machine, "TurnOff")
    marinad.wait_state(machine, "off")


def test_external_network_bridges_a_host_interface(marinad, disk, netns):
    with office_network(netns, "eth9") as office:
        netns.run("ip", "link", "set", "eth9", "up")
        network = create_network(marinad, "office", kind="external", host_interface="eth9")
        bridge = network_prop(marinad, network, "Bridge")
        assert f"master {bridge}" in netns.run("ip", "link", "show", "eth9").stdout
        guest_reaches_the_office(marinad, disk, network, office)
        network_call(marinad, network, "Stop", "a{sv}", {})
        assert "master" not in netns.run("ip", "link", "show", "eth9").stdout


# ---- with NetworkManager running ----

@pytest.fixture
def network_manager(netns, bus, workdir):
    if not os.path.exists(NETWORK_MANAGER):
        pytest.skip(f"{NETWORK_MANAGER} is missing (Debian package network-manager; .ci/setup "
                    "installs it only where no systemd would start it on the host)")
    daemon = NetworkManagerDaemon(netns, bus, workdir)
    yield daemon
    print("---- NetworkManager's log ----\n" + daemon.log())
    daemon.stop()


@pytest.fixture
def nm_marinad(bus, workdir, netns, network_manager):
    """marinad whose system bus is the one NetworkManager is on."""
    yield from marinad_in(netns, bus, workdir, env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address})


def test_with_network_manager_external_bridges_through_it(nm_marinad, network_manager, disk,
                                                          netns):
    """NetworkManager runs: the external network's bridge and its port are
    NM profiles (NM keeps owning the host interface), a guest on it gets an
    address from the office's DHCP server, and stopping the network removes
    the profiles; an internal network's bridge is left unmanaged by NM."""
    marinad = nm_marinad
    with office_network(netns, "eth9") as office:
        wait_until(lambda: "eth9" in network_manager.device_states(), 30, "NM to see eth9")
        network = create_network(marinad, "office", kind="external", host_interface="eth9")
        bridge = network_prop(marinad, network, "Bridge")
        profiles = network_manager.connection_ids()
        assert f"marina-{bridge}" in profiles and f"marina-{bridge}-eth9" in profiles, profiles
        wait_until(lambda: f"master {bridge}" in netns.run("ip", "link", "show", "eth9").stdout,
                   30, "NM to make eth9 a port of the bridge")
        guest_reaches_the_office(marinad, disk, network, office)
        network_call(marinad, network, "Stop", "a{sv}", {})
        assert not [p for p in network_manager.connection_ids() if p.startswith("marina-")]
    internal = create_network(marinad, "lab", kind="internal")
    bridge = network_prop(marinad, internal, "Bridge")
    wait_until(lambda: network_manager.device_states().get(bridge) == "unmanaged", 30,
               f"NM to leave {bridge} unmanaged")


def subprocess_in(namespace, command):
    import subprocess
    return subprocess.Popen(["ip", "netns", "exec", namespace.name] + command,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_external_network_keeps_the_hosts_only_connection(marinad, netns):
    netns.run("ip", "link", "add", "eth8", "type", "veth", "peer", "name", "eth8p")
    netns.run("ip", "addr", "add", "203.0.113.2/24", "dev", "eth8")
    netns.run("ip", "link", "set", "eth8", "up")
    netns.run("ip", "route", "add", "default", "via", "203.0.113.1")
    message = expect_error("Busy", create_network, marinad, "uplink", kind="external",
                           host_interface="eth8")
    assert "only connection" in message and "force" in message
    assert "master" not in netns.run("ip", "link", "show", "eth8").stdout
    assert marinad.manager("ListNetworks") == []


# ---- a session marinad: user-mode NAT only ----

@pytest.fixture
def session_marinad(bus, workdir):
    service = Marinad(bus, workdir, session=True).start()
    yield service
    service.stop()
    kill_machines(service)
    print("---- marinad's log ----\n" + service.log())


def test_session_marinad_offers_user_mode_nat(session_marinad, disk):
    import socket
    marinad = session_marinad
    message = expect_error("InvalidArgument", create_network, marinad, "lab", kind="host")
    assert "only the system service" in message
    port = free_port()
    network = create_network(marinad, "user", kind="nat", address="10.0.77.2", prefix=24,
                             port_forwards=[f"tcp:{port}:7777"])
    assert network_prop(marinad, network, "PortForwards") == [f"tcp:{port}:7777"]
    machine = guest_on(marinad, disk, "user-nat", network)
    start(marinad, machine)
    assert in_range(guest_address(marinad, machine), "10.0.77.128", "10.0.77.254")
    sock = open_serial(marinad, machine)
    try:
        serial_roundtrip(sock, "(while true; do echo MARINA-FWD | nc -l -p 7777; done) & "
                               "echo LISTENING-$((2*3))", "LISTENING-6")
    finally:
        sock.close()

    def answer():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                return b"MARINA-FWD" in conn.recv(100)
        except OSError:
            return False
    wait_until(answer, 30, "the guest's answer through the port forward")
    expect_error("InvalidState", marinad.machine, machine, "ConfigureNetworkAdapter", "sa{sv}",
                 "nic0", {"network": GLib.Variant("o", "/")})


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- configuration changes, counters, a host reboot ----

def test_configure_reservation_and_counters(marinad, disk, netns):
    network = create_network(marinad, "conf", kind="host", address="10.99.5.1")
    machine = marinad.create("fixed", memory_mib=128, boot_disk=disk())
    add_adapter(marinad, machine, network=network)
    mac = marinad.prop(machine, MACHINE_IFACE, "NetworkAdapters")[0][1]
    network_call(marinad, network, "Configure", "a{sv}", network_options(
        {"reservations": [(mac, "10.99.5.77", "fixed")], "lease_time": 600}))
    assert network_prop(marinad, network, "Reservations") == [(mac, "10.99.5.77", "fixed")]
    assert network_prop(marinad, network, "LeaseTime") == 600
    assert "10.99.5.77" in network_call(marinad, network, "GetConfig")
    start(marinad, machine)
    assert guest_address(marinad, machine) == "10.99.5.77"
    assert netns.succeeds("ping", "-c", "3", "-i", "0.2", "10.99.5.77")
    wait_until(lambda: network_prop(marinad, network, "ReceivedPackets") > 0, 15,
               "the bridge's counters")
    # The kind never changes; the address cannot move under a running machine.
    expect_error("InvalidArgument", network_call, marinad, network, "Configure", "a{sv}",
                 network_options({"kind": "nat"}))
    expect_error("InvalidArgument", network_call, marinad, network, "Configure", "a{sv}",
                 network_options({"address": "10.99.6.1"}))  # the reservation would be outside
    expect_error("Busy", network_call, marinad, network, "Configure", "a{sv}",
                 network_options({"address": "10.99.6.1", "reservations": []}))
    assert network_prop(marinad, network, "Address") == "10.99.5.1"


def test_networks_come_back_after_a_host_reboot(marinad, netns):
    network = create_network(marinad, "boot", kind="nat", address="10.99.7.1")
    bridge = network_prop(marinad, network, "Bridge")
    marinad.stop()
    kill_networks(marinad)
    # A reboot: no bridge, no NAT table, an empty runtime directory.
    netns.run("ip", "link", "del", bridge)
    netns.run("nft", "delete", "table", "ip", "marina_" + network.rsplit("/", 1)[1][:8])
    shutil.rmtree(os.path.join(marinad.state_dir, "run"))
    marinad.start()
    assert network_prop(marinad, network, "Active") is True
    assert "10.99.7.1/24" in netns.run("ip", "-4", "addr", "show", "dev", bridge).stdout
    assert pid_alive(dnsmasq_pid(marinad, network))
    assert netns.succeeds("nft", "list", "table", "ip", "marina_" + network.rsplit("/", 1)[1][:8])


def test_defined_machine_with_a_taken_mac_is_refused(marinad, disk, netns):
    first = marinad.create("first", memory_mib=128)
    add_adapter(marinad, first)
    mac = marinad.prop(first, MACHINE_IFACE, "NetworkAdapters")[0][1]
    xml = ('<machine xmlns="http://marinavm.org/ns/machine/1"><name>copy</name>'
           f'<network-adapters><adapter id="nic0" mac="{mac}"/></network-adapters></machine>')
    message = expect_error("Exists", marinad.manager, "DefineMachine", "s", xml)
    assert mac in message and "'first'" in message
    assert len(marinad.manager("ListMachines")) == 1
