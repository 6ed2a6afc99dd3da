# SPDX-License-Identifier: LGPL-2.1-or-later
"""Virtual hard disks: CreateDisk with the real qemu-img, Disk objects, Inspect,
Delete, storage confinement, and a machine booting from a disk Marina made."""

import json
import os
import shutil
import subprocess
import tempfile

import pytest
from gi.repository import GLib

from marina_harness import (BUS_NAME, ERROR_PREFIX, JOB_IFACE, dbus_error_name,
                            variant_options, wait_for_guest_shell, wait_until)

DISK_IFACE = BUS_NAME + ".Disk"
MIB = 1024 * 1024
GIB = 1024 * MIB


@pytest.fixture
def elsewhere():
    """A folder outside every storage folder (the test's own folder is one)."""
    path = tempfile.mkdtemp(prefix="mt-outside-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def storage(marinad):
    return os.path.join(marinad.state_dir, "disks")


def create_disk(marinad, path, **options):
    return marinad.manager("CreateDisk", "sa{sv}", path, variant_options(options))


def create_and_wait(marinad, path, **options):
    disk, job = create_disk(marinad, path, **options)
    status = marinad.wait_job(job)
    assert status[0] == "completed", status
    return disk


def disk_prop(marinad, disk, name):
    return marinad.prop(disk, DISK_IFACE, name)


def inspect(marinad, disk):
    return marinad.call(disk, DISK_IFACE, "Inspect")


def qemu_img_info(path, fmt):
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", "-f", fmt, path],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def confined_qemu_uid(marinad, machine):
    """The uid the machine's QEMU runs as, or None when it runs as root."""
    machine_id = marinad.prop(machine, BUS_NAME + ".Machine", "Id")
    with open(os.path.join(marinad.state_dir, "run", "machines", machine_id, "qemu.pid")) as f:
        uid = os.stat(f"/proc/{int(f.read())}").st_uid
    return uid or None


def acl_of(path):
    return subprocess.run(["getfacl", "-n", "--omit-header", path], check=True,
                          capture_output=True, text=True).stdout


def refused(call, error, *fragments):
    with pytest.raises(GLib.Error) as info:
        call()
    assert dbus_error_name(info.value) == ERROR_PREFIX + error, info.value.message
    for fragment in fragments:
        assert fragment in info.value.message, info.value.message
    return info.value.message


# An odd size that is no whole number of CHS cylinders: without force_size
# QEMU would round it down.
ODD_SIZE = 10 * MIB + 7 * 512


def test_dynamic_vhd_is_valid_with_its_exact_size(marinad):
    path = os.path.join(storage(marinad), "dynamic.vhd")
    disk = create_and_wait(marinad, path, format="vhd", type="dynamic", size=ODD_SIZE)

    assert qemu_img_info(path, "vpc")["virtual-size"] == ODD_SIZE
    assert disk_prop(marinad, disk, "Format") == "vhd"
    assert disk_prop(marinad, disk, "Type") == "dynamic"
    assert disk_prop(marinad, disk, "VirtualSize") == ODD_SIZE
    assert disk_prop(marinad, disk, "Path") == path
    assert os.stat(path).st_mode & 0o777 == 0o600
    entry = inspect(marinad, disk)["chain"][0]
    assert entry["vhd-checksum-valid"] is True
    assert entry["vhd-disk-type"] == "dynamic"
    assert entry["vhd-current-size"] == ODD_SIZE
    assert entry["vhd-creator-app"] == "qem2"
    assert entry["vhd-geometry"] == "65535/16/255"
    # The footer copy at the start and the one at the end agree.
    with open(path, "rb") as f:
        head = f.read(512)
        f.seek(-512, os.SEEK_END)
        assert f.read(512) == head


def test_fixed_vhd_is_allocated_with_progress(marinad):
    path = os.path.join(storage(marinad), "fixed.vhd")
    disk, job = create_disk(marinad, path, format="vhd", type="fixed", size=64 * MIB + 512)
    assert marinad.wait_job(job)[0] == "completed"

    assert marinad.prop(job, JOB_IFACE, "Progress") == 1.0
    assert os.path.getsize(path) == 64 * MIB + 512 + 512  # the data, then the footer
    assert os.stat(path).st_blocks * 512 >= 64 * MIB  # really written, not sparse
    assert qemu_img_info(path, "vpc")["virtual-size"] == 64 * MIB + 512
    assert disk_prop(marinad, disk, "Type") == "fixed"
    assert disk_prop(marinad, disk, "SizeOnHost") >= 64 * MIB
    entry = inspect(marinad, disk)["chain"][0]
    assert entry["vhd-checksum-valid"] is True
    assert entry["vhd-disk-type"] == "fixed"
    assert entry["vhd-current-size"] == 64 * MIB + 512


def test_qcow2(marinad):
    path = os.path.join(storage(marinad), "plain.qcow2")
    disk = create_and_wait(marinad, path, format="qcow2", size=GIB)

    info = qemu_img_info(path, "qcow2")
    assert info["format"] == "qcow2" and info["virtual-size"] == GIB
    subprocess.run(["qemu-img", "check", "-q", "-f", "qcow2", path], check=True)
    assert disk_prop(marinad, disk, "Format") == "qcow2"
    assert disk_prop(marinad, disk, "Type") == "dynamic"
    assert disk_prop(marinad, disk, "Parent") == "/"
    assert disk in marinad.manager("ListDisks")


def test_differencing_qcow2_chain(marinad):
    base_path = os.path.join(storage(marinad), "base.qcow2")
    child_path = os.path.join(storage(marinad), "child.qcow2")
    base = create_and_wait(marinad, base_path, format="qcow2", size=256 * MIB)
    child = create_and_wait(marinad, child_path, format="qcow2", type="differencing", parent=base)

    info = qemu_img_info(child_path, "qcow2")
    assert info["full-backing-filename"] == base_path
    assert info["virtual-size"] == 256 * MIB
    assert disk_prop(marinad, child, "Type") == "differencing"
    assert disk_prop(marinad, child, "Parent") == base
    assert disk_prop(marinad, child, "ParentPath") == base_path
    assert disk_prop(marinad, base, "InUseAsParent") is True
    chain = inspect(marinad, child)["chain"]
    assert [entry["path"] for entry in chain] == [child_path, base_path]
    assert [entry["disk"] for entry in chain] == [child, base]

    refused(lambda: marinad.call(base, DISK_IFACE, "Delete"), "Busy", "parent of", child_path)
    marinad.call(child, DISK_IFACE, "Delete")
    assert not os.path.exists(child_path)
    assert child not in marinad.manager("ListDisks")
    assert disk_prop(marinad, base, "InUseAsParent") is False
    marinad.call(base, DISK_IFACE, "Delete")
    assert not os.path.exists(base_path)


def test_differencing_qcow2_over_vhd(marinad):
    base_path = os.path.join(storage(marinad), "base.vhd")
    child_path = os.path.join(storage(marinad), "over-vhd.qcow2")
    base = create_and_wait(marinad, base_path, format="vhd", size=32 * MIB)
    child = create_and_wait(marinad, child_path, format="qcow2", type="differencing",
                            parent=base_path)

    info = qemu_img_info(child_path, "qcow2")
    assert info["backing-filename-format"] == "vpc"
    assert info["virtual-size"] == 32 * MIB
    chain = inspect(marinad, child)["chain"]
    assert chain[1]["format"] == "vhd" and chain[1]["vhd-checksum-valid"] is True
    assert disk_prop(marinad, child, "Parent") == base
    # QEMU's VHD driver cannot write a differencing VHD: refused, saying what works.
    refused(lambda: create_disk(marinad, os.path.join(storage(marinad), "child.vhd"),
                                format="vhd", type="differencing", parent=base),
            "InvalidArgument", "QEMU cannot write differencing vhd", "qcow2")


def test_boot_from_a_differencing_child_of_a_qcow2_copy(marinad, disk, workdir):
    base_path = os.path.join(storage(marinad), "guest.qcow2")
    child_path = os.path.join(storage(marinad), "guest-child.qcow2")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", disk(), base_path],
                   check=True)
    base = marinad.manager("ImportDisk", "s", base_path)
    assert disk_prop(marinad, base, "Format") == "qcow2"
    child = create_and_wait(marinad, child_path, format="qcow2", type="differencing",
                            parent=base)
    base_before = subprocess.run(["sha256sum", base_path], check=True, stdout=subprocess.PIPE,
                                 text=True).stdout.split()[0]

    machine = marinad.create("guest", memory_mib=128, boot_disk=child_path)
    assert disk_prop(marinad, child, "AttachedTo") == [machine]
    assert marinad.wait_job(marinad.machine(machine, "Start"))[0] == "completed"
    wait_for_guest_shell(marinad, machine)
    # A confined QEMU (marinad as root) reads the parent, and may not write it.
    qemu_uid = confined_qemu_uid(marinad, machine)
    if qemu_uid:
        assert f"user:{qemu_uid}:r--" in acl_of(base_path)

    refused(lambda: marinad.call(child, DISK_IFACE, "Delete"), "Busy", "attached", "'guest'")
    refused(lambda: marinad.call(base, DISK_IFACE, "Delete"), "Busy", child_path)
    refused(lambda: convert(marinad, child, os.path.join(storage(marinad), "copy.qcow2")),
            "Busy", "running machine 'guest'")
    refused(lambda: marinad.call(child, DISK_IFACE, "Merge"), "Busy", "running machine 'guest'")
    refused(lambda: marinad.call(child, DISK_IFACE, "Compact"), "Busy", "running machine 'guest'")
    refused(lambda: marinad.call(child, DISK_IFACE, "Resize", "t", 2 * GIB), "Busy",
            "running machine 'guest'", "turn it off")
    marinad.machine(machine, "TurnOff")
    marinad.wait_state(machine, "off")
    if qemu_uid:
        assert f"user:{qemu_uid}:" not in acl_of(base_path)
    # It booted from data only the base holds, read through the child; the base is unchanged.
    assert subprocess.run(["sha256sum", base_path], check=True, stdout=subprocess.PIPE,
                          text=True).stdout.split()[0] == base_before


def test_cancelled_fixed_creation_leaves_nothing(marinad):
    path = os.path.join(storage(marinad), "big.vhd")
    disk, job = create_disk(marinad, path, format="vhd", type="fixed", size=4 * GIB)

    wait_until(lambda: marinad.prop(job, JOB_IFACE, "Progress") > 0, 60, "some progress")
    marinad.call(job, JOB_IFACE, "Cancel")
    assert marinad.wait_job(job)[0] == "cancelled"
    assert os.listdir(storage(marinad)) == []
    assert disk not in marinad.manager("ListDisks")
    # The name is free again.
    create_and_wait(marinad, path, format="vhd", size=MIB)


def test_refusals(marinad, workdir):
    directory = storage(marinad)
    existing = os.path.join(directory, "existing.qcow2")
    with open(existing, "w"):
        pass

    def create(name, **options):
        return lambda: create_disk(marinad, os.path.join(directory, name), **options)

    refused(create("existing.qcow2", format="qcow2", size=MIB), "Exists", "never overwrites")
    refused(create("zero.vhd", size=0), "InvalidArgument", "needs a size")
    refused(create("odd.vhd", size=MIB + 100), "InvalidArgument", "multiple of 512")
    refused(create("huge.vhd", size=2041 * GIB), "InvalidArgument", "2040 GiB")
    refused(create("key.vhd", size=MIB, colour="blue"), "InvalidArgument", "no option 'colour'")
    refused(create("type.vhd", size="1M"), "InvalidArgument", "'size' must be of type 't'")
    # A linked disk is a host block device, never a new file (test_linked_disks.py).
    refused(create("linked.vhd", size=MIB, type="linked"), "InvalidArgument",
            "takes the options type and device")
    refused(create("f.img", size=MIB, format="vmdk"), "InvalidArgument", "Unknown disk format")
    refused(create("fixed.qcow2", size=MIB, format="qcow2", type="fixed"), "InvalidArgument",
            "vhd or raw")
    refused(create("orphan.qcow2", format="qcow2", type="differencing",
                   parent=os.path.join(directory, "missing.qcow2")), "NotFound", "missing.qcow2")
    refused(create("orphan.qcow2", format="qcow2", type="differencing"), "InvalidArgument",
            "needs a parent")
    refused(create("x.qcow2", format="qcow2", size=MIB, parent=existing), "InvalidArgument",
            "Only a differencing disk")
    assert sorted(os.listdir(directory)) == ["existing.qcow2"]


def test_storage_confinement(marinad, elsewhere):
    directory = storage(marinad)
    shadow_link = os.path.join(directory, "shadow.vhd")
    os.symlink("/etc/shadow", shadow_link)
    os.symlink("/etc", os.path.join(directory, "etc"))
    outside = os.path.join(elsewhere, "outside.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", outside, "1M"], check=True)
    sneaky = os.path.join(directory, "sneaky.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/shadow", "-F", "raw",
                    sneaky, "1M"], check=True)
    shadow_before = os.stat("/etc/shadow")

    refused(lambda: marinad.manager("ImportDisk", "s", shadow_link), "InvalidArgument",
            "leads to '/etc/shadow'")
    refused(lambda: create_disk(marinad, shadow_link, format="raw", size=MIB), "Exists",
            "symbolic link")
    refused(lambda: create_disk(marinad, os.path.join(directory, "etc", "shadow2"), format="raw",
                                size=MIB), "InvalidArgument", "symbolic links out of them")
    refused(lambda: create_disk(marinad, "/etc/marina-test.vhd", size=MIB), "InvalidArgument",
            "outside Marina's storage folders", "[storage] paths=")
    refused(lambda: marinad.manager("ImportDisk", "s", outside), "InvalidArgument", "outside")
    refused(lambda: create_disk(marinad, os.path.join(directory, "c.qcow2"), format="qcow2",
                                type="differencing", parent=outside), "InvalidArgument", "outside")
    refused(lambda: marinad.manager("ImportDisk", "s", sneaky), "InvalidArgument",
            "parent", "/etc/shadow")
    after = os.stat("/etc/shadow")
    assert (after.st_mtime_ns, after.st_size) == (shadow_before.st_mtime_ns, shadow_before.st_size)
    assert not os.path.exists("/etc/marina-test.vhd") and not os.path.exists("/etc/shadow2")
    assert marinad.manager("ListDisks") == []


def test_extra_storage_paths(bus, workdir):
    from marina_harness import Marinad
    extra = os.path.join(workdir, "images")
    os.mkdir(extra)
    service = Marinad(bus, workdir, extra_conf=f"[storage]\npaths={extra}\n").start()
    try:
        assert extra in service.prop("/org/marinavm/Marina1/Manager",
                                     BUS_NAME + ".Manager", "StoragePaths")
        disk = create_and_wait(service, os.path.join(extra, "there.qcow2"), format="qcow2",
                               size=MIB)
        assert disk_prop(service, disk, "Path") == os.path.join(extra, "there.qcow2")
    finally:
        service.stop()


def test_disks_survive_a_restart(marinad, disk):
    made = create_and_wait(marinad, os.path.join(storage(marinad), "kept.vhd"), size=8 * MIB)
    image = os.path.join(storage(marinad), "imported.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", image, "2M"], check=True)
    imported = marinad.manager("ImportDisk", "s", image)
    boot = disk()
    machine = marinad.create("keeper", memory_mib=128, boot_disk=boot)
    before = {path: (disk_prop(marinad, path, "Path"), disk_prop(marinad, path, "Format"),
                     disk_prop(marinad, path, "VirtualSize"), disk_prop(marinad, path, "AttachedTo"))
              for path in marinad.manager("ListDisks")}
    assert {made, imported} <= set(before)
    attached = [path for path, values in before.items() if values[0] == boot]
    assert len(attached) == 1 and before[attached[0]][3] == [machine]

    # What a creation cut short by a crash would leave: removed at the next start.
    stale = os.path.join(storage(marinad), ".big.vhd.marina-0123abcd")
    with open(stale, "w"):
        pass
    # A hand-edited registry with an entry that cannot be an object is skipped.
    with open(os.path.join(marinad.state_dir, "disks.conf"), "a") as f:
        f.write("\n[../evil]\npath=/etc/shadow\n")

    marinad.stop()
    marinad.start()
    assert not os.path.exists(stale)
    after = {path: (disk_prop(marinad, path, "Path"), disk_prop(marinad, path, "Format"),
                    disk_prop(marinad, path, "VirtualSize"), disk_prop(marinad, path, "AttachedTo"))
             for path in marinad.manager("ListDisks")}
    assert after == before


def qemu_io(path, fmt, *commands):
    args = ["qemu-io", "-f", fmt]
    for command in commands:
        args += ["-c", command]
    subprocess.run(args + [path], check=True, stdout=subprocess.DEVNULL)


def same_content(a, a_format, b, b_format):
    """qemu-img compare: what a guest reads from both images is identical."""
    return subprocess.run(["qemu-img", "compare", "-q", "-f", a_format, "-F", b_format, a, b]
                          ).returncode == 0


def convert(marinad, disk, path, **options):
    return marinad.call(disk, DISK_IFACE, "Convert", "sa{sv}", path, variant_options(options))


def convert_and_wait(marinad, disk, path, **options):
    job = convert(marinad, disk, path, **options)
    status = marinad.wait_job(job)
    assert status[0] == "completed", status
    new = marinad.prop(job, JOB_IFACE, "Object")
    assert disk_prop(marinad, new, "Path") == path
    return new


def test_convert_round_trips_are_byte_for_byte(marinad):
    directory = storage(marinad)
    source = os.path.join(directory, "source.raw")
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", source, "16M"], check=True)
    qemu_io(source, "raw", "write -P 0x5a 1M 2M", "write -P 0xc3 9M 512k", "write -P 0x01 0 512")
    disk = marinad.manager("ImportDisk", "s", source)

    steps = [("a.vhd", "vhd", "dynamic", "vpc"), ("b.qcow2", "qcow2", "dynamic", "qcow2"),
             ("c.vhd", "vhd", "fixed", "vpc"), ("d.raw", "raw", "dynamic", "raw"),
             ("e.vhdx", "vhdx", "dynamic", "vhdx")]
    for name, fmt, kind, driver in steps:
        target = os.path.join(directory, name)
        disk = convert_and_wait(marinad, disk, target, format=fmt, type=kind)
        assert disk_prop(marinad, disk, "Format") == fmt
        assert same_content(source, "raw", target, driver), f"{name} differs from the source"
    fixed = os.path.join(directory, "c.vhd")
    assert qemu_img_info(fixed, "vpc")["virtual-size"] == 16 * MIB
    assert os.stat(fixed).st_blocks * 512 >= 16 * MIB
    assert inspect(marinad, marinad.manager("ImportDisk", "s", fixed))["chain"][0][
        "vhd-disk-type"] == "fixed"
    # A change makes compare see it: the check can fail.
    qemu_io(os.path.join(directory, "d.raw"), "raw", "write -P 0x77 5M 512")
    assert not same_content(source, "raw", os.path.join(directory, "d.raw"), "raw")


def test_convert_flattens_a_chain(marinad):
    directory = storage(marinad)
    base_path = os.path.join(directory, "base.vhd")
    child_path = os.path.join(directory, "child.qcow2")
    base = create_and_wait(marinad, base_path, format="vhd", size=8 * MIB)
    qemu_io(base_path, "vpc", "write -P 0x42 0 1M")
    child = create_and_wait(marinad, child_path, format="qcow2", type="differencing", parent=base)
    qemu_io(child_path, "qcow2", "write -P 0x24 512k 64k")

    flat = convert_and_wait(marinad, child, os.path.join(directory, "flat.qcow2"), format="qcow2")
    assert disk_prop(marinad, flat, "Type") == "dynamic"
    assert disk_prop(marinad, flat, "Parent") == "/"
    assert same_content(child_path, "qcow2", os.path.join(directory, "flat.qcow2"), "qcow2")
    assert not same_content(base_path, "vpc", os.path.join(directory, "flat.qcow2"), "qcow2")


def test_convert_refusals(marinad, elsewhere):
    directory = storage(marinad)
    disk = create_and_wait(marinad, os.path.join(directory, "d.qcow2"), format="qcow2", size=MIB)
    existing = os.path.join(directory, "existing.vhd")
    with open(existing, "w"):
        pass

    refused(lambda: convert(marinad, disk, existing, format="vhd"), "Exists", "never overwrites")
    refused(lambda: convert(marinad, disk, os.path.join(directory, "x.qcow2"),
                            type="differencing"), "InvalidArgument", "standalone")
    refused(lambda: convert(marinad, disk, os.path.join(directory, "x.vhd"), colour="red"),
            "InvalidArgument", "no option 'colour'")
    refused(lambda: convert(marinad, disk, os.path.join(directory, "x.vhd"), format="vmdk"),
            "InvalidArgument", "Unknown disk format")
    refused(lambda: convert(marinad, disk, os.path.join(elsewhere, "x.vhd"), format="vhd"),
            "InvalidArgument", "outside")
    assert sorted(os.listdir(directory)) == ["d.qcow2", "existing.vhd"]


def test_rights_on_a_system_like_bus(workdir):
    from marina_harness import (MANAGER_IFACE, MANAGER_PATH, CallerError, Marinad, Polkitd,
                                SystemLikeBus, call_as)
    bus = SystemLikeBus(workdir)
    polkit = Polkitd(bus, workdir)
    service = Marinad(bus, workdir).start()
    try:
        path = os.path.join(storage(service), "owned.qcow2")
        disk = create_and_wait(service, path, format="qcow2", size=MIB)

        def denied(object_path, interface, method, signature=None, *args, right="create"):
            with pytest.raises(CallerError) as info:
                call_as("nobody", bus, object_path, interface, method, signature, *args)
            assert info.value.name == "org.freedesktop.DBus.Error.AccessDenied"
            assert f"'{right}' right" in info.value.message, info.value.message

        denied(MANAGER_PATH, MANAGER_IFACE, "CreateDisk", "sa{sv}",
               os.path.join(storage(service), "theirs.qcow2"), {})
        denied(MANAGER_PATH, MANAGER_IFACE, "ImportDisk", "s", path)
        denied(disk, DISK_IFACE, "Delete", right="full")
        denied(disk, DISK_IFACE, "SetAccess", "a(sss)", [("user", "nobody", "full")], right="full")
        denied(disk, DISK_IFACE, "Convert", "sa{sv}", os.path.join(storage(service), "c.vhd"), {})
        denied(disk, DISK_IFACE, "Merge")
        denied(disk, DISK_IFACE, "MergeTo", "s", os.path.join(storage(service), "m.qcow2"))
        denied(disk, DISK_IFACE, "Compact")
        denied(disk, DISK_IFACE, "Resize", "t", 2 * MIB)
        # Reading is public, as the properties are.
        assert call_as("nobody", bus, MANAGER_PATH, MANAGER_IFACE, "ListDisks") == [disk]
        assert call_as("nobody", bus, disk, DISK_IFACE, "Inspect")["chain"][0]["path"] == path
        assert os.listdir(storage(service)) == ["owned.qcow2"]
        # The disk's own list: at once, and kept across a restart.
        service.call(disk, DISK_IFACE, "SetAccess", "a(sss)", [("user", "nobody", "full")])
        service.stop()
        service.start()
        assert service.call(disk, DISK_IFACE, "GetAccess") == [("user", "nobody", "full")]
        assert call_as("nobody", bus, disk, DISK_IFACE, "GetAccess") == [["user", "nobody", "full"]]
        call_as("nobody", bus, disk, DISK_IFACE, "Delete")
        assert os.listdir(storage(service)) == []
    finally:
        service.stop()
        polkit.stop()
        bus.stop()


def test_machine_images_are_confined_too(marinad, disk, workdir):
    link = os.path.join(workdir, "innocent.img")
    os.symlink("/etc/shadow", link)

    refused(lambda: marinad.create("bad", memory_mib=64, boot_disk="/etc/shadow"),
            "InvalidArgument", "Machine 'bad'", "outside Marina's storage folders")
    refused(lambda: marinad.create("bad", memory_mib=64, boot_disk=link),
            "InvalidArgument", "leads to '/etc/shadow'")
    refused(lambda: marinad.create("bad", memory_mib=64, cdrom="/etc/shadow"),
            "InvalidArgument", "outside")
    image = disk()
    machine = marinad.create("good", memory_mib=64, boot_disk=image)
    config = marinad.machine(machine, "GetConfig")
    refused(lambda: marinad.machine(machine, "SetConfig", "s", config.replace(image, link)),
            "InvalidArgument", "leads to '/etc/shadow'")
    # An image swapped for a link after the machine was made is refused at Start.
    os.unlink(image)
    os.symlink("/etc/shadow", image)
    refused(lambda: marinad.machine(machine, "Start"), "InvalidArgument", "leads to '/etc/shadow'")
    assert marinad.state(machine) == "off"
    assert [name for name in marinad.manager("ListMachines")] == [machine]


def test_a_missing_parent_is_reported(marinad):
    base_path = os.path.join(storage(marinad), "gone.qcow2")
    child_path = os.path.join(storage(marinad), "orphan.qcow2")
    create_and_wait(marinad, base_path, format="qcow2", size=MIB)
    child = create_and_wait(marinad, child_path, format="qcow2", type="differencing",
                            parent=base_path)
    os.unlink(base_path)  # behind marinad's back

    refused(lambda: inspect(marinad, child), "NotFound", base_path)
    assert disk_prop(marinad, child, "ParentPath") == base_path


def test_raw_fixed_and_dynamic(marinad):
    fixed = create_and_wait(marinad, os.path.join(storage(marinad), "fixed.raw"), format="raw",
                            type="fixed", size=4 * MIB)
    sparse = create_and_wait(marinad, os.path.join(storage(marinad), "sparse.raw"), format="raw",
                             type="dynamic", size=4 * MIB)

    assert disk_prop(marinad, fixed, "Type") == "fixed"
    assert disk_prop(marinad, fixed, "SizeOnHost") >= 4 * MIB
    assert disk_prop(marinad, sparse, "Type") == "dynamic"
    assert disk_prop(marinad, sparse, "VirtualSize") == 4 * MIB


def vhd_checksum(data, offset):
    return (~(sum(data) - sum(data[offset:offset + 4]))) & 0xffffffff


def make_differencing_vhd(path, parent_name, size=8 * MIB):
    """A differencing VHD as Virtual PC writes one: QEMU's dynamic VHD with
    disk type 4 and the parent's name in its dynamic header."""
    subprocess.run(["qemu-img", "create", "-q", "-f", "vpc", "-o",
                    "subformat=dynamic,force_size=on", path, str(size)], check=True)
    with open(path, "r+b") as f:
        footer = bytearray(f.read(512))
        footer[60:64] = (4).to_bytes(4, "big")
        footer[64:68] = vhd_checksum(footer, 64).to_bytes(4, "big")
        header_at = int.from_bytes(footer[16:24], "big")
        f.seek(header_at)
        header = bytearray(f.read(1024))
        name = parent_name.encode("utf-16-be")
        header[64:64 + len(name)] = name
        header[36:40] = vhd_checksum(header, 36).to_bytes(4, "big")
        f.seek(0)
        f.write(footer)
        f.seek(header_at)
        f.write(header)
        f.seek(-512, os.SEEK_END)
        f.write(footer)


def test_a_differencing_vhd_is_never_read_as_standalone(marinad):
    directory = storage(marinad)
    base_path = os.path.join(directory, "base.vhd")
    child_path = os.path.join(directory, "vpc-child.vhd")
    base = create_and_wait(marinad, base_path, format="vhd", size=8 * MIB)
    make_differencing_vhd(child_path, "base.vhd")

    child = marinad.manager("ImportDisk", "s", child_path)
    assert disk_prop(marinad, child, "Type") == "differencing"
    assert disk_prop(marinad, child, "ParentPath") == base_path
    assert disk_prop(marinad, child, "Parent") == base
    assert disk_prop(marinad, base, "InUseAsParent") is True
    entry = inspect(marinad, child)["chain"][0]
    assert entry["vhd-checksum-valid"] is True
    assert entry["vhd-disk-type"] == "differencing"
    assert entry["vhd-parent-name"] == "base.vhd"

    # Convert would flatten it with its parent (test_vhd_differencing.py), but
    # this child names another parent id than base.vhd has.
    refused(lambda: convert(marinad, child, os.path.join(directory, "flat.qcow2"),
                            format="qcow2"), "InvalidArgument", "the parent changed since",
            "base.vhd")
    refused(lambda: create_disk(marinad, os.path.join(directory, "grandchild.qcow2"),
                                format="qcow2", type="differencing", parent=child),
            "InvalidArgument", "as if it had no parent")
    refused(lambda: marinad.create("vpc", memory_mib=64, boot_disk=child_path),
            "InvalidArgument", "Machine 'vpc'", "differencing VHD")
    refused(lambda: marinad.call(base, DISK_IFACE, "Delete"), "Busy", child_path)


def test_a_converting_source_is_held_and_a_cancelled_convert_leaves_nothing(marinad):
    directory = storage(marinad)
    source_path = os.path.join(directory, "sparse.raw")
    source = create_and_wait(marinad, source_path, format="raw", size=512 * MIB)

    job = convert(marinad, source, os.path.join(directory, "full.vhd"), format="vhd", type="fixed")
    refused(lambda: marinad.call(source, DISK_IFACE, "Delete"), "Busy", "being converted")
    marinad.call(job, JOB_IFACE, "Cancel")
    assert marinad.wait_job(job)[0] == "cancelled"
    assert os.listdir(directory) == ["sparse.raw"]
    marinad.call(source, DISK_IFACE, "Delete")
    assert os.listdir(directory) == []
