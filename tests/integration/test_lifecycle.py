# SPDX-License-Identifier: LGPL-2.1-or-later
"""The whole machine lifecycle against the real test guest under TCG."""

import os
import socket

from gi.repository import GLib

from marina_harness import (MACHINE_IFACE, SignalRecorder, open_serial, pid_alive, read_file,
                            serial_roundtrip, wait_for_guest_shell, wait_for_serial, wait_until)


def test_start_boots_guest_and_reports_running(marinad, disk):
    path = marinad.create("boot-test", memory_mib=128, boot_disk=disk(), notes="first")
    changes = SignalRecorder(marinad.connection, MACHINE_IFACE, "StateChanged", path)
    assert marinad.state(path) == "off"
    job = marinad.machine(path, "Start")
    status, error_name, message = marinad.wait_job(job)
    assert status == "completed", message
    assert marinad.state(path) == "running"
    pid = marinad.prop(path, MACHINE_IFACE, "Pid")
    assert pid > 0 and pid_alive(pid)
    assert marinad.prop(path, MACHINE_IFACE, "StartedAt") > 0
    assert marinad.prop(path, MACHINE_IFACE, "ActiveAccelerator") == "tcg"
    wait_for_serial(marinad, path, "MARINA-GUEST-READY")
    changes.wait_for(lambda i: i[1] == ("starting", "running", "user"), 5, "starting → running")
    assert ("off", "starting", "user") in [i[1] for i in changes.items]


def test_pause_resume_reset(marinad, running_machine):
    path = running_machine
    marinad.machine(path, "Pause")
    assert marinad.state(path) == "paused"
    marinad.machine(path, "Resume")
    assert marinad.state(path) == "running"
    wait_for_guest_shell(marinad, path)
    log = marinad.prop(path, MACHINE_IFACE, "SerialLogPath")
    marinad.machine(path, "Reset")
    assert marinad.state(path) == "running"
    # The guest boots again after a reset: its banner appears a second time.
    wait_until(lambda: read_file(log).count("MARINA-GUEST-READY") >= 2, 60, "a second boot")


def test_shutdown_powers_guest_off(marinad, running_machine):
    path = running_machine
    wait_for_guest_shell(marinad, path)
    changes = SignalRecorder(marinad.connection, MACHINE_IFACE, "StateChanged", path)
    job = marinad.machine(path, "Shutdown", "a{sv}", {"timeout": GLib.Variant("u", 60)})
    assert marinad.state(path) == "stopping"
    status, _, message = marinad.wait_job(job, 90)
    assert status == "completed", message
    assert marinad.state(path) == "off"
    assert marinad.prop(path, MACHINE_IFACE, "Pid") == 0
    changes.wait_for(lambda i: i[1] == ("stopping", "off", "shutdown"), 5, "stopping → off")


def test_shutdown_ignored_keeps_machine_running(marinad, running_machine):
    path = running_machine
    wait_for_guest_shell(marinad, path)
    # Without acpid the guest does not hear the power button.
    sock = open_serial(marinad, path)
    assert serial_roundtrip(sock, "killall acpid; echo acpid-$((1+1))-gone", "acpid-2-gone")
    job = marinad.machine(path, "Shutdown", "a{sv}", {"timeout": GLib.Variant("u", 2)})
    status, error_name, message = marinad.wait_job(job, 30)
    assert status == "failed"
    assert "did not shut down within 2 s" in message
    assert marinad.state(path) == "running"
    assert marinad.prop(path, MACHINE_IFACE, "StateReason") == "shutdown-timeout"
    warnings = marinad.events(object=path, min_severity="warning")
    assert any("did not shut down" in e[4] for e in warnings)


def test_turn_off(marinad, running_machine):
    path = running_machine
    pid = marinad.prop(path, MACHINE_IFACE, "Pid")
    marinad.machine(path, "TurnOff")
    assert marinad.state(path) == "off"
    wait_until(lambda: not pid_alive(pid), 10, "QEMU to exit")
    assert marinad.prop(path, MACHINE_IFACE, "StateReason") == "turned-off"


def test_save_and_restore(marinad, running_machine):
    path = running_machine
    wait_for_guest_shell(marinad, path)
    job = marinad.machine(path, "Save")
    status, _, message = marinad.wait_job(job)
    assert status == "completed", message
    assert marinad.state(path) == "saved"
    assert marinad.prop(path, MACHINE_IFACE, "HasSavedState") is True
    assert marinad.prop(path, MACHINE_IFACE, "Pid") == 0
    state_file = os.path.join(marinad.state_dir, "machines",
                              marinad.prop(path, MACHINE_IFACE, "Id"), "saved.state")
    assert os.path.getsize(state_file) > 1024 * 1024

    job = marinad.machine(path, "Start")
    status, _, message = marinad.wait_job(job)
    assert status == "completed", message
    assert marinad.state(path) == "running"
    assert marinad.prop(path, MACHINE_IFACE, "StateReason") == "restored"
    assert marinad.prop(path, MACHINE_IFACE, "HasSavedState") is False
    # The restored guest carries on where it was: its shell still answers.
    fd = open_serial(marinad, path)
    assert serial_roundtrip(fd, "echo restored-$((40+2))", "restored-42")


def test_save_paused_restores_paused(marinad, running_machine):
    path = running_machine
    marinad.machine(path, "Pause")
    assert marinad.wait_job(marinad.machine(path, "Save"))[0] == "completed"
    assert marinad.wait_job(marinad.machine(path, "Start"))[0] == "completed"
    assert marinad.state(path) == "paused"


def test_discard_saved_state(marinad, running_machine):
    path = running_machine
    assert marinad.wait_job(marinad.machine(path, "Save"))[0] == "completed"
    marinad.machine(path, "DiscardSavedState")
    assert marinad.state(path) == "off"
    assert marinad.prop(path, MACHINE_IFACE, "HasSavedState") is False


def test_serial_console_round_trip(marinad, running_machine):
    path = running_machine
    wait_for_guest_shell(marinad, path)
    sock = open_serial(marinad, path)
    assert serial_roundtrip(sock, "echo marina-$((6*7))", "marina-42")


def test_console_speaks_rfb(marinad, running_machine):
    path = running_machine
    (reply, fds) = marinad.call(path, MACHINE_IFACE, "OpenConsole", fd_list=True)
    sock = socket.socket(fileno=fds.get(reply[0]))
    sock.settimeout(10)
    assert sock.recv(12).startswith(b"RFB 003.008")


def test_screenshot_is_png(marinad, running_machine):
    path = running_machine
    wait_for_guest_shell(marinad, path)
    png = bytes(marinad.machine(path, "Screenshot"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 1000


def test_guest_poweroff_reported(marinad, running_machine):
    path = running_machine
    wait_for_guest_shell(marinad, path)
    changes = SignalRecorder(marinad.connection, MACHINE_IFACE, "StateChanged", path)
    sock = open_serial(marinad, path)
    assert serial_roundtrip(sock, "echo shell-$((2+3))", "shell-5")
    sock.sendall(b"poweroff -f\n")
    marinad.wait_state(path, "off", 30)
    changes.wait_for(lambda i: i[1] == ("running", "off", "guest-shutdown"), 5,
                     "running → off for guest-shutdown")


def test_guest_reset_reported(marinad, running_machine):
    path = running_machine
    wait_for_guest_shell(marinad, path)
    changes = SignalRecorder(marinad.connection, MACHINE_IFACE, "StateChanged", path)
    sock = open_serial(marinad, path)
    assert serial_roundtrip(sock, "echo shell-$((2+3))", "shell-5")
    sock.sendall(b"reboot -f\n")
    changes.wait_for(lambda i: i[1][2] == "guest-reset", 30, "a guest-reset report")
    assert marinad.state(path) == "running"


def test_qemu_killed_reports_crash(marinad, running_machine):
    path = running_machine
    pid = marinad.prop(path, MACHINE_IFACE, "Pid")
    os.kill(pid, 9)
    marinad.wait_state(path, "off", 15)
    assert marinad.prop(path, MACHINE_IFACE, "StateReason") == "qemu-crashed"
    errors = marinad.events(object=path, min_severity="error")
    assert any("signal 9" in e[4] for e in errors), errors


def test_remove_keeps_files_and_register_brings_back(marinad, disk):
    path = marinad.create("keeper", memory_mib=64, boot_disk=disk())
    config_path = marinad.prop(path, MACHINE_IFACE, "ConfigPath")
    marinad.machine(path, "Remove")
    assert path not in marinad.manager("ListMachines")
    assert os.path.exists(config_path)
    again = marinad.manager("RegisterMachine", "s", config_path)
    assert again == path
    assert marinad.prop(again, MACHINE_IFACE, "Name") == "keeper"


def test_delete_removes_files(marinad, disk):
    image = disk()
    path = marinad.create("doomed", memory_mib=64, boot_disk=image)
    config_path = marinad.prop(path, MACHINE_IFACE, "ConfigPath")
    marinad.machine(path, "Delete")
    assert path not in marinad.manager("ListMachines")
    assert not os.path.exists(config_path)
    assert os.path.exists(image), "a disk it was only given a path to is kept"
