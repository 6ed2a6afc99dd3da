# SPDX-License-Identifier: LGPL-2.1-or-later
"""A shared disk, as guest clusters used on Virtual Server's shared SCSI bus:
two running machines have one raw disk open at once and see each other's
writes; an unshared attachment of it, and a shared qcow2, are refused."""

import os
import subprocess

import pytest
from gi.repository import GLib

from marina_harness import (dbus_error_name, open_serial, serial_roundtrip, variant_options,
                            wait_for_guest_shell)


def attach(marinad, machine, path, **options):
    return marinad.machine(machine, "AttachDisk", "a{sv}",
                           variant_options({"path": path, **options}))


def expect_error(name, call, *args, **kwargs):
    with pytest.raises(GLib.Error) as info:
        call(*args, **kwargs)
    assert dbus_error_name(info.value) == f"org.marinavm.Marina1.Error.{name}", info.value.message
    return info.value.message


def test_two_machines_write_and_read_one_shared_disk(marinad, disk, workdir):
    shared = os.path.join(workdir, "quorum.img")
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", shared, "16M"], check=True)
    nodes = [marinad.create(name, memory_mib=128, boot_disk=disk()) for name in ("node1", "node2")]
    for node in nodes:
        attach(marinad, node, shared, shared=True)
        assert marinad.wait_job(marinad.machine(node, "Start"))[0] == "completed"
        wait_for_guest_shell(marinad, node)

    first, second = (open_serial(marinad, node) for node in nodes)
    try:
        serial_roundtrip(first, "echo QUORUM-FROM-NODE1 | dd of=/dev/vdb bs=512 count=1 conv=sync "
                                "oflag=direct 2>/dev/null; echo WROTE-$((5+5))", "WROTE-10")
        serial_roundtrip(second, "dd if=/dev/vdb bs=512 count=1 iflag=direct 2>/dev/null | "
                                 "head -c 17; echo", "QUORUM-FROM-NODE1")
    finally:
        first.close()
        second.close()

    third = marinad.create("node3", memory_mib=128, boot_disk=disk())
    message = expect_error("Busy", attach, marinad, third, shared)
    assert "shared=true" in message
    image = os.path.join(workdir, "quorum.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", image, "16M"], check=True)
    message = expect_error("InvalidArgument", attach, marinad, third, image, shared=True)
    assert "Only raw disks can be shared" in message
