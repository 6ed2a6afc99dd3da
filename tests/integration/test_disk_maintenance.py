# SPDX-License-Identifier: LGPL-2.1-or-later
"""Disk.Merge, MergeTo, Compact and Resize with real images: what the guest
would read before and after (qemu-io, qemu-img compare), the refusals, and
jobs cancelled or failed leaving the disks as they were."""

import hashlib
import os
import subprocess

import pytest

from marina_harness import JOB_IFACE, Marinad, write_script
from test_disks import (DISK_IFACE, MIB, create_and_wait, disk_prop, qemu_img_info, qemu_io,
                        refused, same_content, storage)


def reads(path, fmt, pattern, offset, length):
    """Whether the guest would read @pattern (a byte) at @offset."""
    result = subprocess.run(["qemu-io", "-f", fmt, "-r", "-c",
                             f"read -P {pattern} {offset} {length}", path],
                            stdout=subprocess.PIPE, text=True)
    return result.returncode == 0 and "Pattern verification failed" not in result.stdout


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def call_job(marinad, disk, method, signature=None, *args):
    return marinad.call(disk, DISK_IFACE, method, signature, *args)


def run_job(marinad, disk, method, signature=None, *args):
    job = call_job(marinad, disk, method, signature, *args)
    status = marinad.wait_job(job)
    assert status[0] == "completed", status
    assert marinad.prop(job, JOB_IFACE, "Progress") == 1.0
    return job


def allocated_in(path):
    """The ranges qemu-img map says this image itself (not its backing) holds."""
    import json
    out = subprocess.run(["qemu-img", "map", "--output=json", "-f", "qcow2", path], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return [entry for entry in json.loads(out) if entry["depth"] == 0 and entry["data"]]


def chain(marinad, parent_format="qcow2"):
    """A parent with data and a qcow2 child that overwrites part of it and zeroes another."""
    directory = storage(marinad)
    driver = {"qcow2": "qcow2", "vhd": "vpc"}[parent_format]
    parent_path = os.path.join(directory, f"parent.{parent_format}")
    child_path = os.path.join(directory, "child.qcow2")
    parent = create_and_wait(marinad, parent_path, format=parent_format, size=8 * MIB)
    qemu_io(parent_path, driver, "write -P 0x42 0 2M")
    child = create_and_wait(marinad, child_path, format="qcow2", type="differencing",
                            parent=parent)
    qemu_io(child_path, "qcow2", "write -P 0x24 512k 64k", "write -z 1M 64k",
            "write -P 0x99 6M 64k")
    return parent, parent_path, driver, child, child_path


@pytest.mark.parametrize("parent_format", ["qcow2", "vhd"])
def test_merge_puts_the_child_data_in_the_parent(marinad, parent_format):
    parent, parent_path, driver, child, child_path = chain(marinad, parent_format)
    before = os.path.join(storage(marinad), "before.raw")
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", child_path, before],
                   check=True)
    assert reads(parent_path, driver, "0x42", "1M", "64k")

    job = run_job(marinad, child, "Merge")
    assert marinad.prop(job, JOB_IFACE, "Operation") == "merge-disk"
    # The parent now reads what the child read; the child is empty over it, reading the same.
    assert same_content(before, "raw", parent_path, driver)
    assert reads(parent_path, driver, "0x24", "512k", "64k")
    assert reads(parent_path, driver, "0", "1M", "64k")
    assert reads(parent_path, driver, "0x99", "6M", "64k")
    assert reads(parent_path, driver, "0x42", "0", "512k")
    assert same_content(before, "raw", child_path, "qcow2")
    assert allocated_in(child_path) == []
    assert qemu_img_info(child_path, "qcow2")["full-backing-filename"] == parent_path
    assert disk_prop(marinad, child, "Parent") == parent
    assert disk_prop(marinad, parent, "InUseAsParent") is True
    if driver == "qcow2":
        subprocess.run(["qemu-img", "check", "-q", "-f", driver, parent_path], check=True)
    assert sorted(os.listdir(storage(marinad))) == sorted(
        ["before.raw", os.path.basename(parent_path), "child.qcow2"])


def test_merge_refusals(marinad):
    parent, parent_path, driver, child, child_path = chain(marinad)
    sibling_path = os.path.join(storage(marinad), "sibling.qcow2")
    sibling = create_and_wait(marinad, sibling_path, format="qcow2", type="differencing",
                              parent=parent)
    parent_before = digest(parent_path)

    refused(lambda: call_job(marinad, child, "Merge"), "Busy", "also the parent of",
            sibling_path)
    refused(lambda: call_job(marinad, parent, "Merge"), "InvalidArgument", "no parent")
    refused(lambda: call_job(marinad, parent, "MergeTo", "s",
                             os.path.join(storage(marinad), "x.qcow2")),
            "InvalidArgument", "no parent")
    refused(lambda: call_job(marinad, parent, "Compact"), "Busy", "parent of", child_path,
            sibling_path)
    refused(lambda: call_job(marinad, parent, "Resize", "t", 16 * MIB), "Busy", "parent of")
    marinad.call(sibling, DISK_IFACE, "Delete")
    # With the sibling gone the merge goes through.
    run_job(marinad, child, "Merge")
    assert digest(parent_path) != parent_before


def slow_qemu_img(marinad, workdir, command, action):
    """marinad restarted with a qemu-img whose @command first does @action."""
    wrapper = write_script(workdir, "slow-qemu-img",
                           f'if [ "$1" = {command} ]; then {action}; fi\nexec qemu-img "$@"\n')
    marinad.stop()
    service = Marinad(marinad.bus, workdir, extra_conf=f"[qemu]\nimg-binary={wrapper}\n")
    return service.start()


@pytest.mark.parametrize("how", ["cancelled", "failed"])
def test_a_merge_cut_short_leaves_both_disks(marinad, workdir, how):
    parent, parent_path, driver, child, child_path = chain(marinad)
    digests = (digest(parent_path), digest(child_path))
    action = "exec sleep 60" if how == "cancelled" else "echo 'no room' >&2; exit 1"
    service = slow_qemu_img(marinad, workdir, "commit", action)
    try:
        child = service.manager("ImportDisk", "s", child_path)
        job = call_job(service, child, "Merge")
        if how == "cancelled":
            # The parent is copied (most of the work by size) when commit starts.
            from marina_harness import wait_until
            wait_until(lambda: service.prop(job, JOB_IFACE, "Progress") > 0.3, 30, "copies")
            refused(lambda: service.call(child, DISK_IFACE, "Delete"), "Busy", "being merged")
            machine = service.create("on-child", memory_mib=64, boot_disk=child_path)
            refused(lambda: service.machine(machine, "Start"), "Busy", "being merged")
            assert service.state(machine) == "off"
            service.call(job, JOB_IFACE, "Cancel")
        status = service.wait_job(job)
        assert status[0] == how, status
        if how == "failed":
            assert "no room" in service.prop(job, JOB_IFACE, "Message")
        assert (digest(parent_path), digest(child_path)) == digests
        assert sorted(os.listdir(storage(service))) == ["child.qcow2", "parent.qcow2"]
        # Free again.
        service.call(child, DISK_IFACE, "Inspect")
    finally:
        service.stop()


def test_merge_to_makes_a_standalone_copy(marinad):
    parent, parent_path, driver, child, child_path = chain(marinad)
    digests = (digest(parent_path), digest(child_path))
    target = os.path.join(storage(marinad), "merged.qcow2")

    job = run_job(marinad, child, "MergeTo", "s", target)
    merged = marinad.prop(job, JOB_IFACE, "Object")
    assert disk_prop(marinad, merged, "Path") == target
    assert disk_prop(marinad, merged, "Parent") == "/"
    assert disk_prop(marinad, merged, "Type") == "dynamic"
    assert "backing-filename" not in qemu_img_info(target, "qcow2")
    assert same_content(child_path, "qcow2", target, "qcow2")
    assert (digest(parent_path), digest(child_path)) == digests


@pytest.mark.parametrize("fmt", ["qcow2", "vhd"])
def test_compact_drops_zeroed_blocks(marinad, fmt):
    driver = {"qcow2": "qcow2", "vhd": "vpc"}[fmt]
    path = os.path.join(storage(marinad), f"sparse.{fmt}")
    disk = create_and_wait(marinad, path, format=fmt, size=64 * MIB)
    # The guest wrote 32 MiB, then zeroed most of it (as sdelete -z or zerofree would).
    qemu_io(path, driver, "write -P 0x5a 0 32M", "write -P 0 1M 30M")
    reference = os.path.join(storage(marinad), "reference.raw")
    subprocess.run(["qemu-img", "convert", "-f", driver, "-O", "raw", path, reference], check=True)
    size_before = os.stat(path).st_blocks * 512
    assert size_before >= 32 * MIB

    run_job(marinad, disk, "Compact")
    assert os.stat(path).st_blocks * 512 < 8 * MIB
    assert disk_prop(marinad, disk, "SizeOnHost") < 8 * MIB
    assert same_content(reference, "raw", path, driver)
    assert qemu_img_info(path, driver)["virtual-size"] == 64 * MIB
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_compact_keeps_a_child_a_child(marinad):
    parent, parent_path, driver, child, child_path = chain(marinad)
    qemu_io(child_path, "qcow2", "write -P 0x11 3M 2M", "write -P 0 3M 2M")
    reference = os.path.join(storage(marinad), "reference.raw")
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", child_path, reference],
                   check=True)

    run_job(marinad, child, "Compact")
    assert qemu_img_info(child_path, "qcow2")["full-backing-filename"] == parent_path
    assert disk_prop(marinad, child, "Type") == "differencing"
    # The zeros written over the parent's data are still zeros.
    assert same_content(reference, "raw", child_path, "qcow2")
    assert reads(child_path, "qcow2", "0", "1M", "64k")


def test_compact_and_resize_refusals(marinad):
    directory = storage(marinad)
    fixed = create_and_wait(marinad, os.path.join(directory, "fixed.vhd"), format="vhd",
                            type="fixed", size=MIB)
    raw = create_and_wait(marinad, os.path.join(directory, "plain.raw"), format="raw", size=MIB)
    disk = create_and_wait(marinad, os.path.join(directory, "d.qcow2"), format="qcow2",
                           size=4 * MIB)

    refused(lambda: call_job(marinad, fixed, "Compact"), "InvalidArgument", "fixed disk")
    refused(lambda: call_job(marinad, raw, "Compact"), "InvalidArgument", "raw image")
    refused(lambda: call_job(marinad, disk, "Resize", "t", 2 * MIB), "InvalidArgument",
            "only grows")
    refused(lambda: call_job(marinad, disk, "Resize", "t", 4 * MIB), "InvalidArgument",
            "only grows")
    refused(lambda: call_job(marinad, disk, "Resize", "t", 8 * MIB + 100), "InvalidArgument",
            "multiple of 512")
    refused(lambda: call_job(marinad, fixed, "Resize", "t", 2041 * 1024 * MIB),
            "InvalidArgument", "2040 GiB")
    assert qemu_img_info(os.path.join(directory, "d.qcow2"), "qcow2")["virtual-size"] == 4 * MIB


@pytest.mark.parametrize("fmt,kind", [("qcow2", "dynamic"), ("vhd", "dynamic"), ("vhd", "fixed"),
                                      ("raw", "fixed"), ("vhdx", "dynamic")])
def test_resize_grows_and_keeps_the_data(marinad, fmt, kind):
    driver = {"qcow2": "qcow2", "vhd": "vpc", "raw": "raw", "vhdx": "vhdx"}[fmt]
    path = os.path.join(storage(marinad), f"grow.{fmt}")
    disk = create_and_wait(marinad, path, format=fmt, type=kind, size=8 * MIB)
    qemu_io(path, driver, "write -P 0x3c 0 1M", "write -P 0xc3 7M 1M")
    new_size = 24 * MIB + 512 * 3

    run_job(marinad, disk, "Resize", "t", new_size)
    assert qemu_img_info(path, driver)["virtual-size"] == new_size
    if fmt != "vhdx":
        assert disk_prop(marinad, disk, "VirtualSize") == new_size
    assert reads(path, driver, "0x3c", "0", "1M")
    assert reads(path, driver, "0xc3", "7M", "1M")
    assert reads(path, driver, "0", "8M", "16M")
    assert disk_prop(marinad, disk, "Type") == kind
    if kind == "fixed":
        assert os.stat(path).st_blocks * 512 >= new_size
    assert sorted(os.listdir(storage(marinad))) == [f"grow.{fmt}"]
