# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bad input and calls in the wrong state get typed errors a person can act on,
and nothing stored changes."""

import os

import pytest
from gi.repository import GLib

from marina_harness import ERROR_PREFIX, MACHINE_IFACE, dbus_error_name


def expect_error(name, fn, *args, **kw):
    with pytest.raises(GLib.Error) as info:
        fn(*args, **kw)
    assert dbus_error_name(info.value) == ERROR_PREFIX + name, info.value.message
    return info.value.message


@pytest.mark.parametrize("bad_name", ["", "x" * 300, "a/b", "line\nbreak"])
def test_bad_names_refused(marinad, bad_name):
    message = expect_error("InvalidArgument", marinad.create, bad_name, memory_mib=64)
    assert message
    assert marinad.manager("ListMachines") == []


def test_duplicate_name_refused(marinad):
    marinad.create("twin", memory_mib=64)
    message = expect_error("Exists", marinad.create, "twin", memory_mib=64)
    assert "twin" in message


def test_memory_zero_and_too_much_refused(marinad):
    expect_error("InvalidArgument", marinad.create, "zero", memory_mib=0)
    host = marinad.prop("/org/marinavm/Marina1/Manager", "org.marinavm.Marina1.Manager",
                        "HostMemoryMiB")
    message = expect_error("InvalidArgument", marinad.create, "huge", memory_mib=host * 4)
    assert str(host) in message


def test_unknown_and_mistyped_options_refused(marinad):
    message = expect_error("InvalidArgument", marinad.create, "opts", colour="blue")
    assert "colour" in message
    message = expect_error("InvalidArgument", marinad.create, "opts",
                           memory_mib=GLib.Variant("s", "128"))
    assert "memory-mib" in message
    expect_error("InvalidArgument", marinad.create, "opts", profile="amiga")
    expect_error("InvalidArgument", marinad.create, "opts", boot_order=["disk", "floppy"])


def test_bad_xml_refused(marinad):
    expect_error("InvalidArgument", marinad.manager, "DefineMachine", "s", "<machine><name>")
    expect_error("InvalidArgument", marinad.manager, "DefineMachine", "s", "<nothing/>")
    evil = ('<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            '<machine xmlns="http://marinavm.org/ns/machine/1"><name>&x;</name></machine>')
    expect_error("InvalidArgument", marinad.manager, "DefineMachine", "s", evil)
    assert marinad.manager("ListMachines") == []


def test_missing_boot_disk_refused(marinad, workdir, disk):
    message = expect_error("NotFound", marinad.create, "nodisk", memory_mib=64,
                           boot_disk=os.path.join(workdir, "gone.img"))
    assert "gone.img" in message
    assert marinad.manager("ListMachines") == []
    # A disk that disappears after the machine was made is caught at Start.
    image = disk()
    path = marinad.create("lost", memory_mib=64, boot_disk=image)
    os.remove(image)
    message = expect_error("NotFound", marinad.machine, path, "Start")
    assert os.path.basename(image) in message
    assert marinad.state(path) == "off"


def test_invalid_state_refusals_name_the_state(marinad, disk):
    path = marinad.create("states", memory_mib=64, boot_disk=disk())
    for method in ["Pause", "Resume", "Save", "TurnOff", "Reset", "DiscardSavedState",
                   "Screenshot", "OpenConsole", "OpenSerial"]:
        message = expect_error("InvalidState", marinad.machine, path, method)
        assert "is off" in message, message
    expect_error("InvalidState", marinad.machine, path, "Shutdown", "a{sv}", {})


def test_invalid_state_refusals_while_running(marinad, running_machine):
    path = running_machine
    for method in ["Start", "Resume", "DiscardSavedState", "Remove", "Delete"]:
        args = ()
        message = expect_error("InvalidState", marinad.machine, path, method, *args)
        assert "is running" in message, message


def test_set_config_refuses_memory_change_while_running(marinad, running_machine):
    path = running_machine
    xml = marinad.machine(path, "GetConfig")
    changed = xml.replace('<memory unit="MiB">128</memory>', '<memory unit="MiB">256</memory>')
    assert changed != xml
    message = expect_error("InvalidState", marinad.machine, path, "SetConfig", "s", changed)
    assert "memory" in message
    assert marinad.machine(path, "GetConfig") == xml
    assert marinad.prop(path, MACHINE_IFACE, "MemoryMiB") == 128


def test_set_config_changes_notes_while_running_and_persists(marinad, running_machine):
    path = running_machine
    xml = marinad.machine(path, "GetConfig")
    changed = xml.replace("<notes/>", "<notes>web server</notes>").replace(
        "<notes></notes>", "<notes>web server</notes>")
    assert changed != xml, xml
    marinad.machine(path, "SetConfig", "s", changed)
    assert marinad.prop(path, MACHINE_IFACE, "Notes") == "web server"
    with open(marinad.prop(path, MACHINE_IFACE, "ConfigPath")) as f:
        assert "web server" in f.read()


def test_bad_shutdown_option_refused(marinad, running_machine):
    expect_error("InvalidArgument", marinad.machine, running_machine, "Shutdown", "a{sv}",
                 {"timeout": GLib.Variant("s", "soon")})
    assert marinad.state(running_machine) == "running"


def test_find_machine(marinad):
    path = marinad.create("findme", memory_mib=64)
    assert marinad.manager("FindMachine", "s", "findme") == path
    assert marinad.manager("FindMachine", "s", path.rsplit("/", 1)[1]) == path
    expect_error("NotFound", marinad.manager, "FindMachine", "s", "nobody")
