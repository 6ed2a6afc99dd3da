# SPDX-License-Identifier: LGPL-2.1-or-later
"""Save state of a machine whose disk is a VHD or VHDX: QEMU's own drivers
block it, so marinad serves those disks from qemu-storage-daemon."""

import os
import subprocess

import pytest

from marina_harness import (MACHINE_IFACE, open_serial, pid_alive, serial_roundtrip,
                            wait_for_guest_shell, wait_until)


def vhd_copy(guest_image, directory, name, fmt):
    path = os.path.join(directory, name)
    options = ["-o", "subformat=dynamic,force_size=on"] if fmt == "vpc" else []
    subprocess.run(["qemu-img", "convert", "-q", "-O", fmt, *options, guest_image, path],
                   check=True)
    return path


def daemon_pid(marinad, machine):
    path = os.path.join(marinad.state_dir, "run", "machines", machine.rsplit("/", 1)[1],
                        "storage-daemon.pid")
    try:
        with open(path) as f:
            return int(f.read().strip())
    except FileNotFoundError:
        return 0


@pytest.mark.parametrize("fmt,name", [("vpc", "guest.vhd"), ("vhdx", "guest.vhdx")])
def test_save_and_restore_a_machine_on_a_vhd(marinad, guest_image, workdir, fmt, name):
    image = vhd_copy(guest_image, workdir, name, fmt)
    machine = marinad.create("on-vhd", memory_mib=128, boot_disk=image)
    assert marinad.wait_job(marinad.machine(machine, "Start"))[0] == "completed"
    wait_for_guest_shell(marinad, machine)

    # QEMU reaches the disk through NBD, the daemon holds the VHD itself.
    pid = marinad.prop(machine, MACHINE_IFACE, "Pid")
    with open(f"/proc/{pid}/cmdline") as f:
        cmdline = f.read()
    assert "driver=nbd" in cmdline and image not in cmdline
    daemon = daemon_pid(marinad, machine)
    assert daemon and pid_alive(daemon)
    with open(f"/proc/{daemon}/cmdline") as f:
        assert image in f.read()

    sock = open_serial(marinad, machine)
    try:
        serial_roundtrip(sock, "echo before-save > /tmp/mark; echo MARKED-$((3*3))", "MARKED-9")
    finally:
        sock.close()
    assert marinad.wait_job(marinad.machine(machine, "Save"))[0] == "completed"
    assert marinad.state(machine) == "saved"
    wait_until(lambda: not pid_alive(daemon), 20, "the storage daemon to end")
    # The image is closed and whole: qemu-img reads it without complaint.
    subprocess.run(["qemu-img", "check", "-q", "-f", fmt, image], check=fmt == "vhdx")

    assert marinad.wait_job(marinad.machine(machine, "Start"))[0] == "completed"
    assert marinad.state(machine) == "running"
    sock = open_serial(marinad, machine)
    try:
        # The guest's memory came back, and its disk answers.
        serial_roundtrip(sock, "cat /tmp/mark; ls / > /dev/null && echo DISK-$((4*4))", "DISK-16")
        serial_roundtrip(sock, "cat /tmp/mark", "before-save")
    finally:
        sock.close()
    marinad.machine(machine, "TurnOff")
    marinad.wait_state(machine, "off")
    assert daemon_pid(marinad, machine) == 0
