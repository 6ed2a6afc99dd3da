# SPDX-License-Identifier: LGPL-2.1-or-later
"""Undo disks, as in Virtual Server: a run of the test guest writes to an
overlay over its boot disk; commit puts the guest's write in the boot disk,
discard leaves the boot disk as it was, a saved state keeps its overlay.
The guest writes a marker to its disk from its shell (dd to /dev/vda, past
the files of its FAT file system); the host reads it from the images."""

import hashlib
import os
import subprocess

import pytest

from marina_harness import (BUS_NAME, JOB_IFACE, open_serial, serial_roundtrip,
                            wait_for_guest_shell, wait_until)
from test_disks import DISK_IFACE, MIB, refused

MACHINE_IFACE = BUS_NAME + ".Machine"
MARKER = "MARINA-UNDO-MARK"
# 60 MiB into the 64 MiB guest disk: free clusters of its FAT file system.
MARKER_SECTOR = 60 * 2048
SECOND = "MARINA-UNDO-TWO"
SECOND_SECTOR = 61 * 2048


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def marker_in(path, fmt, workdir, marker=MARKER, sector=MARKER_SECTOR):
    """Whether a guest reading the image would find the marker."""
    flat = os.path.join(workdir, "flat.raw")
    subprocess.run(["qemu-img", "convert", "-U", "-f", fmt, "-O", "raw", path, flat], check=True)
    with open(flat, "rb") as f:
        f.seek(sector * 512)
        found = f.read(len(marker)) == marker.encode()
    os.unlink(flat)
    return found


def overlay_of(marinad, machine):
    machine_id = marinad.prop(machine, MACHINE_IFACE, "Id")
    return os.path.join(marinad.state_dir, "machines", machine_id, "undo-disk0.qcow2")


def undo_machine(marinad, disk, action):
    return marinad.create("undo", memory_mib=128, boot_disk=disk(), undo_disks=True,
                          undo_action=action)


def boot(marinad, machine):
    assert marinad.wait_job(marinad.machine(machine, "Start"))[0] == "completed"
    wait_for_guest_shell(marinad, machine)
    return open_serial(marinad, machine)


def guest_writes_marker(sock, marker=MARKER, sector=MARKER_SECTOR):
    assert serial_roundtrip(sock, f"echo -n {marker} | dd of=/dev/vda bs=512 seek={sector}"
                            f" conv=notrunc 2>/dev/null; sync; echo wrote-$((40+2))", "wrote-42")


def guest_reads_marker(sock):
    assert serial_roundtrip(sock, f"dd if=/dev/vda bs=512 skip={MARKER_SECTOR} count=1 "
                            f"2>/dev/null | head -c {len(MARKER)}; echo \" read-$((40+3))\"",
                            f"{MARKER} read-43")


def turn_off(marinad, machine):
    marinad.machine(machine, "TurnOff")
    marinad.wait_state(machine, "off")


def undo_changes(marinad, machine):
    return marinad.prop(machine, MACHINE_IFACE, "HasUndoChanges")


def test_kept_changes_carry_over_and_commit_puts_them_in_the_boot_disk(marinad, disk, workdir):
    machine = undo_machine(marinad, disk, "keep")
    base = marinad.prop(machine, MACHINE_IFACE, "BootDisk")
    before = digest(base)
    assert marinad.prop(machine, MACHINE_IFACE, "UndoDisks") is True
    assert marinad.prop(machine, MACHINE_IFACE, "UndoAction") == "keep"
    assert undo_changes(marinad, machine) is False
    assert 'undo-disks enabled="yes" action="keep"' in marinad.machine(machine, "GetConfig")

    sock = boot(marinad, machine)
    guest_writes_marker(sock)
    sock.close()
    assert undo_changes(marinad, machine) is True
    assert digest(base) == before  # the run writes the overlay, never the boot disk
    turn_off(marinad, machine)
    overlay = overlay_of(marinad, machine)
    assert undo_changes(marinad, machine) is True
    assert marker_in(overlay, "qcow2", workdir)
    assert not marker_in(base, "raw", workdir) and digest(base) == before

    # The next run goes on from the kept overlay.
    sock = boot(marinad, machine)
    guest_reads_marker(sock)
    # Committed while the guest runs: the first mark goes into the boot disk, and a new
    # overlay takes what the guest writes next.
    job = marinad.machine(machine, "CommitUndoDisks")
    assert marinad.wait_job(job)[0] == "completed", marinad.prop(job, JOB_IFACE, "Message")
    assert marker_in(base, "raw", workdir)
    assert marinad.state(machine) == "running"
    assert any("committed while running" in event[4] for event in marinad.events())
    guest_writes_marker(sock, SECOND, SECOND_SECTOR)
    guest_reads_marker(sock)
    sock.close()
    turn_off(marinad, machine)
    assert not marker_in(base, "raw", workdir, SECOND, SECOND_SECTOR)
    assert marker_in(overlay, "qcow2", workdir, SECOND, SECOND_SECTOR)

    job = marinad.machine(machine, "CommitUndoDisks")
    assert marinad.wait_job(job)[0] == "completed"
    assert marinad.prop(job, JOB_IFACE, "Operation") == "commit-undo-disks"
    assert marker_in(base, "raw", workdir, SECOND, SECOND_SECTOR)
    assert not os.path.exists(overlay)
    assert undo_changes(marinad, machine) is False


def test_discard_at_power_off_leaves_the_boot_disk_and_a_saved_state_keeps_its_overlay(
        marinad, disk, workdir):
    machine = undo_machine(marinad, disk, "discard")
    base = marinad.prop(machine, MACHINE_IFACE, "BootDisk")
    before = digest(base)

    sock = boot(marinad, machine)
    guest_writes_marker(sock)
    sock.close()
    assert marinad.wait_job(marinad.machine(machine, "Save"))[0] == "completed"
    assert marinad.state(machine) == "saved"
    assert undo_changes(marinad, machine) is True
    assert marker_in(overlay_of(marinad, machine), "qcow2", workdir)
    refused(lambda: marinad.machine(machine, "DiscardUndoDisks"), "InvalidState", "saved")

    # Restored, the guest still sees what it wrote before the save.
    assert marinad.wait_job(marinad.machine(machine, "Start"))[0] == "completed"
    sock = open_serial(marinad, machine)
    guest_reads_marker(sock)
    sock.close()
    turn_off(marinad, machine)
    wait_until(lambda: not undo_changes(marinad, machine), 10, "the overlay to be discarded")
    assert not os.path.exists(overlay_of(marinad, machine))
    assert digest(base) == before


def test_commit_at_power_off(marinad, disk, workdir):
    machine = undo_machine(marinad, disk, "commit")
    base = marinad.prop(machine, MACHINE_IFACE, "BootDisk")

    sock = boot(marinad, machine)
    guest_writes_marker(sock)
    sock.close()
    turn_off(marinad, machine)
    wait_until(lambda: not undo_changes(marinad, machine), 30, "the overlay to be committed")
    assert marker_in(base, "raw", workdir)
    assert any("undo disk committed" in event[4] for event in marinad.events())


def fake_run(marinad, machine, base):
    """What a run leaves: an overlay over the boot disk, with a write in it."""
    overlay = overlay_of(marinad, machine)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", overlay],
                   check=True)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x77 1M 64k", overlay], check=True,
                   stdout=subprocess.DEVNULL)
    # marinad learns of it as it would after a run: at the next change of state.
    return overlay


def test_undo_refusals_and_configuration(marinad, disk, workdir):
    refused(lambda: marinad.create("bad", memory_mib=64, undo_action="sometimes"),
            "InvalidArgument", "undo action", "keep, commit, discard")
    machine = marinad.create("plain", memory_mib=64, boot_disk=disk())
    base = marinad.prop(machine, MACHINE_IFACE, "BootDisk")
    assert marinad.prop(machine, MACHINE_IFACE, "UndoDisks") is False
    assert "undo-disks" not in marinad.machine(machine, "GetConfig")
    refused(lambda: marinad.machine(machine, "CommitUndoDisks"), "InvalidState",
            "no undo changes")
    refused(lambda: marinad.machine(machine, "DiscardUndoDisks"), "InvalidState",
            "no undo changes")

    config = marinad.machine(machine, "GetConfig").replace(
        "<boot-order>", '<undo-disks enabled="yes" action="commit"/>\n  <boot-order>', 1)
    marinad.machine(machine, "SetConfig", "s", config)
    assert marinad.prop(machine, MACHINE_IFACE, "UndoDisks") is True
    assert marinad.prop(machine, MACHINE_IFACE, "UndoAction") == "commit"

    overlay = fake_run(marinad, machine, base)
    assert marinad.prop(machine, MACHINE_IFACE, "UndoDisks") is True
    off_again = config.replace('enabled="yes"', 'enabled="no"')
    refused(lambda: marinad.machine(machine, "SetConfig", "s", off_again), "InvalidState",
            "undo changes", "CommitUndoDisks")
    # The boot disk is held for the overlay: rewriting it would change what the overlay is over.
    boot_disk = marinad.manager("ImportDisk", "s", base)
    refused(lambda: marinad.call(boot_disk, DISK_IFACE, "Resize", "t", 128 * MIB), "Busy",
            "undo changes", "'plain'")
    marinad.machine(machine, "DiscardUndoDisks")
    assert not os.path.exists(overlay)
    marinad.machine(machine, "SetConfig", "s", off_again)
    assert marinad.prop(machine, MACHINE_IFACE, "UndoDisks") is False
