# SPDX-License-Identifier: LGPL-2.1-or-later
"""Event scripts on machines and on the service."""

import os

import pytest
from gi.repository import GLib

from marina_harness import (Marinad, dbus_error_name, read_file, recording_script, wait_until,
                            write_script)


def test_machine_scripts_run_on_events(marinad, disk, workdir):
    path = marinad.create("scripted", memory_mib=128, boot_disk=disk())
    script, record = recording_script(workdir, "on-event")
    for event in ("started", "stopped", "saved", "restored", "config-changed"):
        marinad.machine(path, "AttachScript", "ss", event, script)
    assert [e for e, _ in marinad.machine(path, "ListScripts")] == \
        ["config-changed", "restored", "saved", "started", "stopped"]
    assert marinad.wait_job(marinad.machine(path, "Start"))[0] == "completed"
    wait_until(lambda: "started scripted user running" in read_file(record), 30, "started script")
    assert marinad.wait_job(marinad.machine(path, "Save"))[0] == "completed"
    wait_until(lambda: "saved scripted saved saved" in read_file(record), 30, "saved script")
    assert marinad.wait_job(marinad.machine(path, "Start"))[0] == "completed"
    wait_until(lambda: "restored scripted restored running" in read_file(record), 30,
               "restored script")
    marinad.machine(path, "SetCpuAllocation", "uuu", 200, 100, 0)
    wait_until(lambda: "config-changed scripted user" in read_file(record), 30,
               "config-changed script")
    marinad.machine(path, "TurnOff")
    wait_until(lambda: "stopped scripted turned-off off" in read_file(record), 30,
               "stopped script")
    # The output of each script is in the event log.
    wait_until(lambda: any("hello from stopped" in e[4] for e in marinad.events(object=path)), 10,
               "the script's output in the event log")
    # Scripts are part of the configuration and survive a restart.
    assert 'event="started"' in marinad.machine(path, "GetConfig")


def test_failing_and_hanging_scripts_never_block(bus, workdir, disk):
    service = Marinad(bus, workdir, extra_conf="[scripts]\ntimeout=2\n").start()
    try:
        path = service.create("robust", memory_mib=128, boot_disk=disk())
        failing = write_script(workdir, "fail", "echo broken >&2\nexit 3\n")
        hanging = write_script(workdir, "hang", "echo going to sleep\nsleep 300\n")
        service.machine(path, "AttachScript", "ss", "started", failing)
        service.machine(path, "AttachScript", "ss", "stopped", hanging)
        assert service.wait_job(service.machine(path, "Start"))[0] == "completed"
        wait_until(lambda: any("exit status 3" in e[4] and "broken" in e[4]
                               for e in service.events(object=path)), 30, "the failure report")
        assert service.state(path) == "running"
        service.machine(path, "TurnOff")
        assert service.state(path) == "off"
        wait_until(lambda: any("timeout" in e[4] and "going to sleep" in e[4]
                               for e in service.events(object=path)), 30, "the timeout report")
    finally:
        service.stop()


def test_unsafe_scripts_and_unknown_events_refused(marinad, workdir):
    path = marinad.create("careful", memory_mib=64)
    script = write_script(workdir, "open", "true\n")
    os.chmod(script, 0o757)  # writable by anyone
    for event, target, name in [("started", script, "InvalidArgument"),
                                 ("teatime", script, "InvalidArgument"),
                                 ("started", "relative/path", "InvalidArgument"),
                                 ("started", os.path.join(workdir, "missing"), "NotFound")]:
        with pytest.raises(GLib.Error) as info:
            marinad.machine(path, "AttachScript", "ss", event, target)
        assert dbus_error_name(info.value) == "org.marinavm.Marina1.Error." + name
    assert marinad.machine(path, "ListScripts") == []
    with pytest.raises(GLib.Error) as info:
        marinad.machine(path, "RemoveScript", "s", "started")
    assert dbus_error_name(info.value) == "org.marinavm.Marina1.Error.NotFound"


def test_service_scripts(marinad, bus, workdir):
    script, record = recording_script(workdir, "on-service")
    marinad.manager("AttachScript", "ss", "service-started", script)
    marinad.manager("AttachScript", "ss", "service-stopping", script)
    assert len(marinad.manager("ListScripts")) == 2
    marinad.stop()
    wait_until(lambda: "service-stopping" in read_file(record), 10, "the stopping script")
    again = Marinad(bus, workdir).start()
    try:
        wait_until(lambda: "service-started" in read_file(record), 10, "the started script")
        again.manager("RemoveScript", "s", "service-started")
        assert [e for e, _ in again.manager("ListScripts")] == ["service-stopping"]
    finally:
        again.stop()
