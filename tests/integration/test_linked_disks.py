# SPDX-License-Identifier: LGPL-2.1-or-later
"""Linked disks: a host block device as a machine's disk, and converting one
to a VHD — Virtual Server's physical-to-virtual path. The block device is a
loop device over a copy of the test guest's disk, made and removed here."""

import os
import subprocess

import pytest
from gi.repository import GLib

from marina_harness import (Marinad, dbus_error_name, kill_machines, remove_cgroups,
                            variant_options, wait_for_guest_shell)

DISK_IFACE = "org.marinavm.Marina1.Disk"


@pytest.fixture
def loop_device(disk):
    image = disk()
    device = subprocess.run(["losetup", "--find", "--show", image], capture_output=True,
                            text=True, check=True).stdout.strip()
    yield device
    subprocess.run(["losetup", "-d", device], check=False)


@pytest.fixture
def linked_marinad(bus, workdir, loop_device):
    service = Marinad(bus, workdir,
                      extra_conf=f"[storage]\npaths={workdir}\ndevices={loop_device}\n").start()
    yield service
    service.stop()
    kill_machines(service)
    remove_cgroups(service.cgroup_name)
    print("---- marinad's log ----\n" + service.log())


def create_disk(marinad, path, **options):
    return marinad.manager("CreateDisk", "sa{sv}", path, variant_options(options))


def expect_error(name, call, *args, **kwargs):
    with pytest.raises(GLib.Error) as info:
        call(*args, **kwargs)
    assert dbus_error_name(info.value) == f"org.marinavm.Marina1.Error.{name}", info.value.message
    return info.value.message


def test_a_block_device_runs_as_a_linked_disk_and_converts_to_a_vhd(linked_marinad, loop_device,
                                                                   workdir):
    marinad = linked_marinad
    disk, job = create_disk(marinad, loop_device, type="linked")
    assert marinad.wait_job(job)[0] == "completed"
    assert marinad.prop(disk, DISK_IFACE, "Type") == "linked"
    assert marinad.prop(disk, DISK_IFACE, "Format") == "raw"
    assert marinad.prop(disk, DISK_IFACE, "VirtualSize") == 64 * 1024 * 1024

    machine = marinad.create("physical", memory_mib=128, boot_disk=loop_device)
    assert marinad.wait_job(marinad.machine(machine, "Start"))[0] == "completed"
    wait_for_guest_shell(marinad, machine)
    marinad.machine(machine, "TurnOff")
    marinad.wait_state(machine, "off")

    # Physical to virtual: the device's every byte in a dynamic VHD.
    target = os.path.join(workdir, "p2v.vhd")
    job = marinad.call(disk, DISK_IFACE, "Convert", "sa{sv}", target,
                       variant_options({"format": "vhd"}))
    assert marinad.wait_job(job)[0] == "completed"
    subprocess.run(["qemu-img", "compare", "-q", "-f", "raw", "-F", "vpc", loop_device, target],
                   check=True)


def test_devices_not_listed_are_refused(linked_marinad, disk, workdir):
    marinad = linked_marinad
    other = subprocess.run(["losetup", "--find", "--show", disk()], capture_output=True,
                           text=True, check=True).stdout.strip()
    try:
        message = expect_error("InvalidArgument", create_disk, marinad, other, type="linked")
        assert "outside Marina's storage folders" in message
        expect_error("InvalidArgument", marinad.create, "sneaky", memory_mib=64, boot_disk=other)
    finally:
        subprocess.run(["losetup", "-d", other], check=False)
    message = expect_error("InvalidArgument", create_disk, marinad, "/dev/null", type="linked")
    assert "not a host block device" in message
    message = expect_error("InvalidArgument", create_disk, marinad, "/dev/null", type="linked",
                           size=GLib.Variant("t", 5))
    assert "type and device" in message
