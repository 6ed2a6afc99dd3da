# SPDX-License-Identifier: LGPL-2.1-or-later
"""A differencing VHD as Virtual PC, Virtual Server or Hyper-V write them
(parent locators, parent UUID): QEMU would read it as standalone, zeros where
the parent holds data. Converted by marinad it returns every byte the
original chain does: as a qcow2 child of the same parent, or standalone."""

import os
import struct
import subprocess
import time
import uuid

from gi.repository import GLib

from marina_harness import dbus_error_name, variant_options

DISK_IFACE = "org.marinavm.Marina1.Disk"
MIB = 1 << 20
SIZE = 8 * MIB
BLOCK = 2 * MIB
VHD_EPOCH = 946684800


def checksum(data):
    return (~sum(data)) & 0xFFFFFFFF


def geometry(size):
    """CHS as the VHD specification computes it (appendix: CHS calculation)."""
    total = min(size // 512, 65535 * 16 * 255)
    if total >= 65535 * 16 * 63:
        sectors, heads = 255, 16
        cylinders_heads = total // sectors
    else:
        sectors = 17
        cylinders_heads = total // sectors
        heads = max((cylinders_heads + 1023) // 1024, 4)
        if cylinders_heads >= heads * 1024 or heads > 16:
            sectors, heads = 31, 16
            cylinders_heads = total // sectors
        if cylinders_heads >= heads * 1024:
            sectors, heads = 63, 16
            cylinders_heads = total // sectors
    return cylinders_heads // heads, heads, sectors


def footer(size, disk_type, unique_id, data_offset):
    cylinders, heads, sectors = geometry(size)
    fields = struct.pack(">8sIIQI4sI4sQQHBBI", b"conectix", 2, 0x00010000, data_offset,
                         int(time.time()) - VHD_EPOCH, b"vpc ", 0x00050003, b"Wi2k", size, size,
                         cylinders, heads, sectors, disk_type)
    body = fields + b"\0\0\0\0" + unique_id + b"\0" + bytes(427)
    value = checksum(body)
    return fields + struct.pack(">I", value) + unique_id + b"\0" + bytes(427)


def locator(code, data, offset):
    return struct.pack(">IIIIQ", code, 512, len(data), 0, offset)


def vhd_file(path, sectors, parent=None):
    """A dynamic VHD (or, with parent=(path, id), a differencing one) as
    Virtual PC writes them, of SIZE bytes, holding {sector number: 512 bytes}.
    Returns its unique id."""
    entries = SIZE // BLOCK
    table_offset = 1536
    bat_size = 512
    locator_offset = table_offset + bat_size
    blocks_offset = locator_offset + 1024
    parent_path, parent_id = parent if parent else ("", bytes(16))
    absolute = parent_path.replace("/", "\\").encode("utf-16-le")
    relative = (".\\" + os.path.basename(parent_path)).encode("utf-16-le") if parent else b""
    name = os.path.basename(parent_path).encode("utf-16-be").ljust(512, b"\0")
    locators = bytes(24 * 8)
    if parent:
        locators = (locator(0x57326B75, absolute, locator_offset) +       # "W2ku"
                    locator(0x57327275, relative, locator_offset + 512) +  # "W2ru"
                    bytes(24 * 6))
    table = [0xFFFFFFFF] * entries
    blocks = bytearray()
    for index in sorted({s * 512 // BLOCK for s in sectors}):
        table[index] = (blocks_offset + len(blocks)) // 512
        bitmap = bytearray(512)
        data = bytearray(BLOCK)
        first = index * BLOCK // 512
        for sector in range(first, first + BLOCK // 512):
            if sector in sectors:
                within = sector - first
                bitmap[within // 8] |= 0x80 >> (within % 8)
                data[within * 512:(within + 1) * 512] = sectors[sector]
        blocks += bitmap + data
    header = struct.pack(">8sQQIII", b"cxsparse", 0xFFFFFFFFFFFFFFFF, table_offset, 0x00010000,
                         entries, BLOCK)
    rest = parent_id + struct.pack(">II", 0, 0) + name + locators + bytes(256)
    value = checksum(header + b"\0\0\0\0" + rest)
    dynamic = header + struct.pack(">I", value) + rest
    own_id = uuid.uuid4().bytes
    foot = footer(SIZE, 4 if parent else 3, own_id, 512)
    with open(path, "wb") as f:
        f.write(foot + dynamic)
        f.write(b"".join(struct.pack(">I", e) for e in table).ljust(bat_size, b"\xff"))
        f.write(absolute.ljust(512, b"\0") + relative.ljust(512, b"\0"))
        f.write(blocks)
        f.write(foot)
    return own_id


def parent_sectors():
    """Data everywhere: sector n holds the pattern of n, to its very last."""
    return {n: struct.pack(">I", n) * 128 for n in range(SIZE // 512)}


def expected_chain(own):
    base = parent_sectors()
    return b"".join(own.get(n, base[n]) for n in range(SIZE // 512))


def read_raw(image, workdir):
    out = os.path.join(workdir, "check.raw")
    subprocess.run(["qemu-img", "convert", "-q", "-O", "raw", image, out], check=True)
    with open(out, "rb") as f:
        data = f.read()
    os.unlink(out)
    return data


def convert(marinad, disk, path, **options):
    job = marinad.call(disk, DISK_IFACE, "Convert", "sa{sv}", path, variant_options(options))
    status = marinad.wait_job(job)
    assert status[0] == "completed", status
    return marinad.prop(job, "org.marinavm.Marina1.Job", "Object")


def storage(marinad):
    path = os.path.join(marinad.state_dir, "disks")
    os.makedirs(path, exist_ok=True)
    return path


def test_differencing_vhd_returns_every_byte_of_its_chain(marinad, workdir):
    folder = storage(marinad)
    # Both as Virtual PC writes them: QEMU would size them by CHS geometry,
    # 32 KiB short of the 8 MiB their footers give, and lose the last sectors.
    parent = os.path.join(folder, "base.vhd")
    parent_id = vhd_file(parent, parent_sectors())
    # The child holds a few sectors of its own, in two blocks, the parent the rest.
    own = {0: b"\xbb" * 512, 5: b"\xcc" * 512, 4096: b"\xdd" * 512, 4100: b"\xee" * 512}
    child = os.path.join(folder, "child.vhd")
    vhd_file(child, own, parent=(parent, parent_id))
    expected = expected_chain(own)
    disk = marinad.manager("ImportDisk", "s", child)
    assert marinad.prop(disk, DISK_IFACE, "Type") == "differencing"
    assert marinad.prop(disk, DISK_IFACE, "ParentPath") == parent
    # What QEMU alone would make of it: the parent's data is missing.
    assert read_raw(child, workdir) != expected

    chained = convert(marinad, disk, os.path.join(folder, "child.qcow2"))
    assert marinad.prop(chained, DISK_IFACE, "Type") == "differencing"
    assert marinad.prop(chained, DISK_IFACE, "ParentPath") == parent
    assert read_raw(os.path.join(folder, "child.qcow2"), workdir) == expected

    standalone = convert(marinad, disk, os.path.join(folder, "flat.qcow2"), type="dynamic")
    assert marinad.prop(standalone, DISK_IFACE, "Type") == "dynamic"
    assert read_raw(os.path.join(folder, "flat.qcow2"), workdir) == expected
    assert sorted(f for f in os.listdir(folder) if f.startswith(".")) == []


def test_differencing_vhd_over_a_changed_parent_is_refused(marinad, workdir):
    folder = storage(marinad)
    parent = os.path.join(folder, "base.vhd")
    vhd_file(parent, parent_sectors())
    child = os.path.join(folder, "child.vhd")
    vhd_file(child, {0: b"\xbb" * 512}, parent=(parent, uuid.uuid4().bytes))
    disk = marinad.manager("ImportDisk", "s", child)
    job = None
    try:
        job = marinad.call(disk, DISK_IFACE, "Convert", "sa{sv}",
                           os.path.join(folder, "child.qcow2"), {})
    except GLib.Error as error:
        assert dbus_error_name(error) == "org.marinavm.Marina1.Error.InvalidArgument"
        assert "the parent changed since" in error.message
    assert job is None
    assert not os.path.exists(os.path.join(folder, "child.qcow2"))
