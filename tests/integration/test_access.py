# SPDX-License-Identifier: LGPL-2.1-or-later
"""Access rights on a system-like bus with the real polkitd: callers of other
uids are refused create, configure and use until an access list or polkit
grants them, and a change applies at once."""

import pytest
from gi.repository import GLib

from marina_harness import (ERROR_PREFIX, JOB_IFACE, MACHINE_IFACE, MANAGER_IFACE, MANAGER_PATH,
                            CallerError, Marinad, Polkitd, SystemLikeBus, call_as,
                            dbus_error_name, kill_machines)

ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"


@pytest.fixture
def system_bus(workdir):
    bus = SystemLikeBus(workdir)
    yield bus
    bus.stop()


def start_marinad(bus, workdir):
    return Marinad(bus, workdir).start()


@pytest.fixture
def secured(system_bus, workdir):
    """marinad in system mode with polkitd (default rules) on the same bus."""
    polkit = Polkitd(system_bus, workdir)
    service = start_marinad(system_bus, workdir)
    yield service
    service.stop()
    kill_machines(service)
    polkit.stop()
    print("---- marinad's log ----\n" + service.log())


def as_user(user, service, path, interface, method, signature=None, *args):
    return call_as(user, service.bus, path, interface, method, signature, *args)


def refused(user, service, path, interface, method, signature=None, *args):
    with pytest.raises(CallerError) as info:
        as_user(user, service, path, interface, method, signature, *args)
    assert info.value.name == ACCESS_DENIED, info.value
    return info.value.message


def test_other_user_refused_create_configure_use(secured):
    path = secured.create("private", memory_mib=64)
    config = secured.machine(path, "GetConfig")

    message = refused("nobody", secured, MANAGER_PATH, MANAGER_IFACE, "CreateMachine",
                      "sa{sv}", "mine", {})
    assert "nobody may not call Manager.CreateMachine" in message
    assert "'create' right" in message and "org.marinavm.Marina1.create-machines" in message
    message = refused("nobody", secured, path, MACHINE_IFACE, "Start")
    assert "machine 'private'" in message and "'use' right" in message
    message = refused("nobody", secured, path, MACHINE_IFACE, "SetConfig", "s",
                      config.replace("<notes></notes>", "<notes>hacked</notes>"))
    assert "'configure' right" in message
    refused("nobody", secured, path, MACHINE_IFACE, "GetConfig")
    refused("nobody", secured, path, MACHINE_IFACE, "OpenConsole")
    refused("nobody", secured, path, MACHINE_IFACE, "Delete")
    refused("nobody", secured, MANAGER_PATH, MANAGER_IFACE, "SetAccess", "a(sss)",
            [("user", "nobody", "full")])
    # What every caller sees: the machine list, its properties and the events.
    assert as_user("nobody", secured, MANAGER_PATH, MANAGER_IFACE, "ListMachines") == [path]
    assert secured.machine(path, "GetConfig") == config
    assert secured.state(path) == "off"
    assert secured.manager("ListMachines") == [path]


def test_machine_access_list_applies_at_once(secured, disk):
    path = secured.create("shared", memory_mib=128, boot_disk=disk())

    secured.machine(path, "SetAccess", "a(sss)", [("user", "nobody", "use")])
    assert secured.machine(path, "GetAccess") == [("user", "nobody", "use")]
    assert "<allow user=\"nobody\" level=\"use\"/>" in secured.machine(path, "GetConfig")
    config = as_user("nobody", secured, path, MACHINE_IFACE, "GetConfig")
    refused("nobody", secured, path, MACHINE_IFACE, "SetConfig", "s", config)
    refused("daemon", secured, path, MACHINE_IFACE, "Start")

    job = as_user("nobody", secured, path, MACHINE_IFACE, "Start")
    assert secured.wait_job(job)[0] == "completed"
    assert secured.state(path) == "running"
    as_user("nobody", secured, path, MACHINE_IFACE, "TurnOff")
    secured.wait_state(path, "off")

    secured.machine(path, "SetAccess", "a(sss)", [("user", "nobody", "configure")])
    config = as_user("nobody", secured, path, MACHINE_IFACE, "GetConfig")
    edited = config.replace("<notes></notes>", "<notes>by nobody</notes>")
    as_user("nobody", secured, path, MACHINE_IFACE, "SetConfig", "s", edited)
    assert secured.prop(path, MACHINE_IFACE, "Notes") == "by nobody"
    # configure is not full: the list itself stays out of reach.
    refused("nobody", secured, path, MACHINE_IFACE, "SetAccess", "a(sss)",
            [("user", "daemon", "full")])
    refused("nobody", secured, path, MACHINE_IFACE, "Delete")

    secured.machine(path, "SetAccess", "a(sss)", [])
    refused("nobody", secured, path, MACHINE_IFACE, "GetConfig")


def test_server_access_grants_create_and_creator_owns(secured):
    secured.manager("SetAccess", "a(sss)", [("user", "daemon", "create")])
    assert secured.manager("GetAccess") == [("user", "daemon", "create")]

    path = as_user("daemon", secured, MANAGER_PATH, MANAGER_IFACE, "CreateMachine", "sa{sv}",
                   "daemons", {})
    assert secured.machine(path, "GetAccess") == [("user", "daemon", "full")]
    as_user("daemon", secured, path, MACHINE_IFACE, "GetConfig")
    refused("nobody", secured, path, MACHINE_IFACE, "GetConfig")
    # create is not use: another's machine stays closed to daemon.
    other = secured.create("root-only", memory_mib=64)
    refused("daemon", secured, other, MACHINE_IFACE, "GetConfig")
    as_user("daemon", secured, path, MACHINE_IFACE, "Delete")
    assert path not in secured.manager("ListMachines")

    # The server's list outlives a restart of marinad.
    secured.stop()
    secured.start()
    assert secured.manager("GetAccess") == [("user", "daemon", "create")]


def test_access_change_cannot_hide_in_set_config(secured):
    path = secured.create("guarded", memory_mib=64)
    secured.machine(path, "SetAccess", "a(sss)", [("user", "nobody", "configure")])
    config = as_user("nobody", secured, path, MACHINE_IFACE, "GetConfig")
    escalated = config.replace('level="configure"', 'level="full"')

    with pytest.raises(CallerError) as info:
        as_user("nobody", secured, path, MACHINE_IFACE, "SetConfig", "s", escalated)
    assert info.value.name == ERROR_PREFIX + "InvalidArgument"
    assert "SetAccess" in info.value.message
    assert secured.machine(path, "GetAccess") == [("user", "nobody", "configure")]


@pytest.mark.parametrize("entries, fragment", [
    ([("user", "no-such-user-here", "use")], "no user named"),
    ([("user", "../../etc", "use")], "not a user name"),
    ([("user", "a,b=c", "use")], "not a user name"),
    ([("robot", "nobody", "use")], "\"user\" or \"group\""),
    ([("user", "nobody", "create")], "use, configure or full"),
    ([("user", "nobody", "use"), ("user", "nobody", "full")], "twice"),
])
def test_bad_access_lists_refused_and_nothing_changes(secured, entries, fragment):
    path = secured.create("strict", memory_mib=64)
    secured.machine(path, "SetAccess", "a(sss)", [("group", "nogroup", "use")])

    with pytest.raises(GLib.Error) as info:
        secured.machine(path, "SetAccess", "a(sss)", entries)
    assert dbus_error_name(info.value) == ERROR_PREFIX + "InvalidArgument"
    assert fragment in info.value.message
    assert secured.machine(path, "GetAccess") == [("group", "nogroup", "use")]


def test_group_entry_grants_its_members(secured):
    path = secured.create("team", memory_mib=64)
    refused("nobody", secured, path, MACHINE_IFACE, "GetConfig")
    secured.machine(path, "SetAccess", "a(sss)", [("group", "nogroup", "use")])
    assert "<name>team</name>" in as_user("nobody", secured, path, MACHINE_IFACE, "GetConfig")


def test_polkit_rule_grants_an_action(system_bus, workdir):
    rules = """polkit.addRule(function(action, subject) {
    if (action.id == "org.marinavm.Marina1.use-machines" && subject.user == "daemon")
        return polkit.Result.YES;
});
"""
    polkit = Polkitd(system_bus, workdir, rules=rules)
    service = start_marinad(system_bus, workdir)
    try:
        path = service.create("polkit", memory_mib=64)
        assert "<name>polkit</name>" in as_user("daemon", service, path, MACHINE_IFACE,
                                                "GetConfig")
        refused("nobody", service, path, MACHINE_IFACE, "GetConfig")
        # use-machines grants use, not configure.
        refused("daemon", service, path, MACHINE_IFACE, "SetConfig", "s",
                service.machine(path, "GetConfig"))
    finally:
        service.stop()
        polkit.stop()


def test_without_polkit_only_access_lists_grant(system_bus, workdir):
    service = start_marinad(system_bus, workdir)
    try:
        path = service.create("nopolkit", memory_mib=64)
        message = refused("nobody", service, path, MACHINE_IFACE, "GetConfig")
        assert "polkit is not running" in message
        service.machine(path, "SetAccess", "a(sss)", [("user", "nobody", "use")])
        as_user("nobody", service, path, MACHINE_IFACE, "GetConfig")
    finally:
        service.stop()


def test_job_cancel_needs_use_of_its_machine(secured, disk):
    path = secured.create("jobs", memory_mib=128, boot_disk=disk())
    job = secured.machine(path, "Start")
    secured.wait_job(job)
    refused("nobody", secured, job, JOB_IFACE, "Cancel")
    # Waiting for a job reveals nothing more than its properties do.
    as_user("nobody", secured, job, JOB_IFACE, "Wait")


def test_network_access_list(secured):
    """A network's own list: 'configure' lets a user change it, nothing lets
    them delete it but 'full'. Made inactive: no bridge is needed."""
    network = secured.manager("CreateNetwork", "sa{sv}", "office",
                              {"kind": GLib.Variant("s", "host"),
                               "start": GLib.Variant("b", False)})
    iface = "org.marinavm.Marina1.Network"
    message = refused("nobody", secured, network, iface, "Stop", "a{sv}", {})
    assert "network 'office'" in message and "'configure' right" in message
    refused("nobody", secured, network, iface, "GetLeases")
    refused("nobody", secured, MANAGER_PATH, MANAGER_IFACE, "CreateNetwork", "sa{sv}", "mine", {})
    secured.call(network, iface, "SetAccess", "a(sss)", [("user", "nobody", "configure")])
    as_user("nobody", secured, network, iface, "Stop", "a{sv}", {})
    assert as_user("nobody", secured, network, iface, "GetLeases") == []
    refused("nobody", secured, network, iface, "Delete")
    refused("nobody", secured, network, iface, "SetAccess", "a(sss)", [("user", "nobody", "full")])
    assert as_user("nobody", secured, MANAGER_PATH, MANAGER_IFACE, "ListNetworks") == [network]
