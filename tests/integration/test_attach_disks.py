# SPDX-License-Identifier: LGPL-2.1-or-later
"""Machine.AttachDisk and DetachDisk (IDE and SCSI in the legacy profile,
virtio in the modern one, with their limits), and CD/DVD and floppy media
inserted and ejected while the machine runs."""

import os
import subprocess

from gi.repository import GLib

from marina_harness import (BUS_NAME, open_serial, serial_roundtrip, wait_for_guest_shell,
                            wait_until)
from test_disks import DISK_IFACE, MIB, disk_prop, refused, storage

MACHINE_IFACE = BUS_NAME + ".Machine"


def image(marinad, name, size=MIB, fmt="qcow2"):
    path = os.path.join(storage(marinad), name)
    # force_size: a VHD of exactly the size asked, as Marina makes them.
    options = ["-o", "force_size=on"] if fmt == "vpc" else []
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt] + options + [path, str(size)],
                   check=True)
    return path


def attach(marinad, machine, **options):
    from marina_harness import variant_options
    return marinad.machine(machine, "AttachDisk", "a{sv}", variant_options(options))


def disks_of(marinad, machine):
    return marinad.prop(machine, MACHINE_IFACE, "Disks")


def start(marinad, machine):
    assert marinad.wait_job(marinad.machine(machine, "Start"))[0] == "completed"


def open_files(marinad, machine):
    pid = marinad.prop(machine, MACHINE_IFACE, "Pid")
    directory = f"/proc/{pid}/fd"
    files = set()
    for fd in os.listdir(directory):
        try:
            files.add(os.readlink(os.path.join(directory, fd)))
        except FileNotFoundError:
            pass
    return files


def test_legacy_ide_and_scsi_limits(marinad, disk):
    machine = marinad.create("legacy", memory_mib=128, profile="legacy", boot_disk=disk())
    first = image(marinad, "ide1.qcow2")
    disk1 = attach(marinad, machine, path=first)
    assert disk_prop(marinad, disk1, "Path") == first
    assert disk_prop(marinad, disk1, "AttachedTo") == [machine]
    second = marinad.manager("ImportDisk", "s", image(marinad, "ide2.qcow2"))
    refused(lambda: attach(marinad, machine, disk=second), "InvalidArgument",
            "'disk' must be of type 'o'")
    attach(marinad, machine, disk=GLib.Variant("o", second), bus="ide")
    assert disks_of(marinad, machine) == [(first, "ide", 0, 1),
                                          (os.path.join(storage(marinad), "ide2.qcow2"), "ide", 1, 1)]
    refused(lambda: attach(marinad, machine, path=image(marinad, "ide3.qcow2")),
            "InsufficientResources", "4 drives (2 channels × 2)", "bus scsi")
    refused(lambda: attach(marinad, machine, path=first), "Exists", "already")
    refused(lambda: attach(marinad, machine, path=image(marinad, "v.qcow2"), bus="virtio"),
            "InvalidArgument", "legacy profile has IDE and SCSI")
    refused(lambda: attach(marinad, machine, bus="scsi"), "InvalidArgument", "needs the disk")

    scsi = [image(marinad, f"scsi{n}.qcow2") for n in range(29)]
    for path in scsi[:28]:
        attach(marinad, machine, path=path, bus="scsi")
    refused(lambda: attach(marinad, machine, path=scsi[28], bus="scsi"),
            "InsufficientResources", "28 disks (4 controllers × 7)")
    slots = [(bus, controller, unit) for _, bus, controller, unit in disks_of(marinad, machine)]
    assert slots[2:] == [("scsi", c, u) for c in range(4) for u in range(7)]
    assert '<disk path="' + scsi[27] + '" format="qcow2" bus="scsi" controller="3" unit="6"/>' \
        in marinad.machine(machine, "GetConfig")

    # QEMU takes all of them: the machine runs with 30 disks on IDE and four LSI controllers.
    start(marinad, machine)
    assert {first, scsi[0], scsi[27]} <= open_files(marinad, machine)
    refused(lambda: attach(marinad, machine, path=scsi[28], bus="scsi"), "InvalidState", "off")
    refused(lambda: marinad.machine(machine, "DetachDisk", "o", disk1), "InvalidState", "off")
    marinad.machine(machine, "TurnOff")
    marinad.wait_state(machine, "off")

    marinad.machine(machine, "DetachDisk", "o", disk1)
    assert disk_prop(marinad, disk1, "AttachedTo") == []
    assert first not in [entry[0] for entry in disks_of(marinad, machine)]
    assert os.path.exists(first)
    refused(lambda: marinad.machine(machine, "DetachDisk", "o", disk1), "NotFound",
            "not attached")
    boot = [d for d in marinad.manager("ListDisks")
            if disk_prop(marinad, d, "Path") == marinad.prop(machine, MACHINE_IFACE, "BootDisk")]
    refused(lambda: marinad.machine(machine, "DetachDisk", "o", boot[0]), "InvalidArgument",
            "boot disk", "SetConfig")
    # The freed IDE slot is the next one taken.
    attach(marinad, machine, path=image(marinad, "ide4.qcow2"))
    assert (os.path.join(storage(marinad), "ide4.qcow2"), "ide", 0, 1) in disks_of(marinad, machine)


def test_modern_virtio_disks_seen_by_the_guest(marinad, disk):
    machine = marinad.create("modern", memory_mib=128, boot_disk=disk())
    refused(lambda: attach(marinad, machine, path=image(marinad, "x.qcow2"), bus="ide"),
            "InvalidArgument", "modern profile attaches additional disks on virtio")
    attach(marinad, machine, path=image(marinad, "eight.qcow2", 8 * MIB))
    attach(marinad, machine, path=image(marinad, "sixteen.vhd", 16 * MIB, "vpc"), bus="virtio")
    assert [entry[1:] for entry in disks_of(marinad, machine)] == [("virtio", 0, 0),
                                                                   ("virtio", 0, 1)]
    for n in range(14):
        attach(marinad, machine, path=image(marinad, f"more{n}.qcow2"))
    refused(lambda: attach(marinad, machine, path=image(marinad, "last.qcow2")),
            "InsufficientResources", "16 additional virtio disks")
    for path in [entry[0] for entry in disks_of(marinad, machine)][2:]:
        marinad.machine(machine, "DetachDisk", "o", marinad.manager("ImportDisk", "s", path))

    start(marinad, machine)
    wait_for_guest_shell(marinad, machine)
    sock = open_serial(marinad, machine)
    # Sectors of 512 bytes: 8 MiB and 16 MiB (the VHD's exact size, force_size).
    assert serial_roundtrip(sock, "echo sizes $(cat /sys/block/vdb/size /sys/block/vdc/size) end",
                            "sizes 16384 32768 end")
    sock.close()


def test_media_inserted_and_ejected_while_running(marinad, disk):
    iso = image(marinad, "install.iso", 2 * MIB, "raw")
    other = image(marinad, "drivers.iso", MIB, "raw")
    floppy = image(marinad, "boot.flp", 1440 * 1024, "raw")
    machine = marinad.create("media", memory_mib=128, profile="legacy", boot_disk=disk())
    marinad.machine(machine, "InsertMedia", "ss", "cdrom", iso)
    assert marinad.prop(machine, MACHINE_IFACE, "Cdrom") == iso
    start(marinad, machine)
    assert iso in open_files(marinad, machine)

    marinad.machine(machine, "InsertMedia", "ss", "cdrom", other)
    assert marinad.prop(machine, MACHINE_IFACE, "Cdrom") == other
    files = open_files(marinad, machine)
    assert other in files and iso not in files
    marinad.machine(machine, "InsertMedia", "ss", "floppy", floppy)
    assert marinad.prop(machine, MACHINE_IFACE, "Floppy") == floppy
    assert floppy in open_files(marinad, machine)
    assert '<floppy path="' + floppy + '"/>' in marinad.machine(machine, "GetConfig")

    marinad.machine(machine, "EjectMedia", "s", "cdrom")
    marinad.machine(machine, "EjectMedia", "s", "floppy")
    assert marinad.prop(machine, MACHINE_IFACE, "Cdrom") == ""
    assert marinad.prop(machine, MACHINE_IFACE, "Floppy") == ""
    wait_until(lambda: not {other, floppy} & open_files(marinad, machine), 10,
               "QEMU to close the media")
    refused(lambda: marinad.machine(machine, "InsertMedia", "ss", "tape", iso), "InvalidArgument",
            "cdrom or floppy")
    refused(lambda: marinad.machine(machine, "InsertMedia", "ss", "cdrom", "/etc/shadow"),
            "InvalidArgument", "outside")
    marinad.machine(machine, "TurnOff")
    marinad.wait_state(machine, "off")
    modern = marinad.create("modern", memory_mib=64)
    refused(lambda: marinad.machine(modern, "InsertMedia", "ss", "floppy", floppy),
            "InvalidArgument", "only the legacy profile")
