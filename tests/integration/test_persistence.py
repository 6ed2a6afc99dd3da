# SPDX-License-Identifier: LGPL-2.1-or-later
"""Machines, their configuration and the event log survive marinad restarts;
running machines outlive marinad."""

import os

from marina_harness import (MACHINE_IFACE, Marinad, open_serial, pid_alive, serial_roundtrip,
                            wait_for_guest_shell, wait_until)


def restart(marinad, bus, workdir, kill=False):
    if kill:
        marinad.kill9()
    else:
        marinad.stop()
    return Marinad(bus, workdir).start()


def test_machines_and_events_survive_restart(marinad, bus, workdir):
    path = marinad.create("durable", memory_mib=96, vcpus=2, notes="keep me",
                          profile="legacy", boot_order=["cdrom", "disk"])
    again = restart(marinad, bus, workdir)
    try:
        assert again.manager("ListMachines") == [path]
        assert again.prop(path, MACHINE_IFACE, "MemoryMiB") == 96
        assert again.prop(path, MACHINE_IFACE, "VCpus") == 2
        assert again.prop(path, MACHINE_IFACE, "Profile") == "legacy"
        assert again.prop(path, MACHINE_IFACE, "Notes") == "keep me"
        assert again.prop(path, MACHINE_IFACE, "BootOrder") == ["cdrom", "disk"]
        assert any("created" in e[4] for e in again.events(object=path))
    finally:
        again.stop()


def test_corrupt_config_is_reported_and_skipped(marinad, bus, workdir):
    good = marinad.create("good", memory_mib=64)
    bad = marinad.create("bad", memory_mib=64)
    bad_config = marinad.prop(bad, MACHINE_IFACE, "ConfigPath")
    marinad.stop()
    with open(bad_config, "w") as f:
        f.write("<machine>this is not")
    again = Marinad(bus, workdir).start()
    try:
        assert again.manager("ListMachines") == [good]
        with open(bad_config) as f:
            assert f.read() == "<machine>this is not", "a broken file is never overwritten"
        assert any(bad_config in e[4] for e in again.events(min_severity="error"))
    finally:
        again.stop()


def test_machines_outlive_marinad_kill9(marinad, bus, workdir, disk, running_machine):
    runner = running_machine
    sleeper = marinad.create("sleeper", memory_mib=128, boot_disk=disk())
    assert marinad.wait_job(marinad.machine(sleeper, "Start"))[0] == "completed"
    wait_for_guest_shell(marinad, runner)
    marinad.machine(sleeper, "Pause")
    pids = {path: marinad.prop(path, MACHINE_IFACE, "Pid") for path in (runner, sleeper)}
    again = restart(marinad, bus, workdir, kill=True)
    try:
        assert all(pid_alive(pid) for pid in pids.values())
        assert again.state(runner) == "running"
        assert again.state(sleeper) == "paused"
        assert again.prop(runner, MACHINE_IFACE, "Pid") == pids[runner]
        assert again.prop(runner, MACHINE_IFACE, "StateReason") == "reattached"
        # The guest ran on undisturbed: its shell still answers.
        sock = open_serial(again, runner)
        assert serial_roundtrip(sock, "echo still-$((20+1))", "still-21")
        # Reattached machines are fully controllable, down to their exit.
        again.machine(sleeper, "Resume")
        assert again.state(sleeper) == "running"
        again.machine(sleeper, "TurnOff")
        wait_until(lambda: not pid_alive(pids[sleeper]), 10, "QEMU to exit")
        assert again.state(sleeper) == "off"
    finally:
        again.stop()


def test_plain_restart_keeps_machine_running(marinad, bus, workdir, running_machine):
    path = running_machine
    pid = marinad.prop(path, MACHINE_IFACE, "Pid")
    again = restart(marinad, bus, workdir)
    try:
        assert again.state(path) == "running"
        assert again.prop(path, MACHINE_IFACE, "StateReason") == "reattached"
        os.kill(pid, 9)
        again.wait_state(path, "off", 15)
        assert again.prop(path, MACHINE_IFACE, "StateReason") == "qemu-crashed"
    finally:
        again.stop()


def test_saved_state_survives_restart(marinad, bus, workdir, running_machine):
    path = running_machine
    assert marinad.wait_job(marinad.machine(path, "Save"))[0] == "completed"
    again = restart(marinad, bus, workdir)
    try:
        assert again.state(path) == "saved"
        assert again.wait_job(again.machine(path, "Start"))[0] == "completed"
        assert again.state(path) == "running"
    finally:
        again.stop()


def test_define_from_exported_config(marinad, disk):
    path = marinad.create("original", memory_mib=64, boot_disk=disk())
    xml = marinad.machine(path, "GetConfig")
    copy = xml.replace("<name>original</name>", "<name>copy</name>")
    new_path = marinad.manager("DefineMachine", "s", copy)
    assert new_path != path, "a copy gets an id of its own"
    assert marinad.prop(new_path, MACHINE_IFACE, "Name") == "copy"
    assert marinad.prop(new_path, MACHINE_IFACE, "BootDisk") == \
        marinad.prop(path, MACHINE_IFACE, "BootDisk")


def test_autostart_always(marinad, bus, workdir, disk):
    path = marinad.create("auto", memory_mib=128, boot_disk=disk(), autostart="always")
    marinad.stop()
    # A new boot of the host: its runtime directory is empty.
    os.remove(os.path.join(marinad.state_dir, "run", "autostart-done"))
    again = Marinad(bus, workdir).start()
    try:
        again.wait_state(path, "running", 30)
    finally:
        again.machine(path, "TurnOff")
        again.stop()


def test_stop_machines_applies_stop_action(marinad, disk):
    saver = marinad.create("saver", memory_mib=128, boot_disk=disk(), stop_action="save")
    offer = marinad.create("offer", memory_mib=128, boot_disk=disk(), stop_action="turn-off")
    for path in (saver, offer):
        assert marinad.wait_job(marinad.machine(path, "Start"))[0] == "completed"
    marinad.manager("StopMachines", timeout=120)
    assert marinad.state(saver) == "saved"
    assert marinad.state(offer) == "off"
