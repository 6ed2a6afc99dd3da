# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile input: names and paths that could break out of QEMU's option syntax or
the state directory, files that are not configurations, a huge XML document, and
a flood of malformed calls. marinad refuses or escapes, and keeps serving."""

import os
import time

import pytest
from gi.repository import Gio, GLib

from marina_harness import (BUS_NAME, ERROR_PREFIX, MACHINE_IFACE, MANAGER_IFACE, MANAGER_PATH,
                            dbus_error_name, wait_until)

NS = "http://marinavm.org/ns/machine/1"
# marinad gives freed memory back to the system every 5 s (malloc_trim).
TRIM_WAIT = 6


def expect_error(name, fn, *args, **kw):
    with pytest.raises(GLib.Error) as info:
        fn(*args, **kw)
    assert dbus_error_name(info.value) == ERROR_PREFIX + name, info.value.message
    return info.value.message


def files_outside(workdir, state_dir):
    """Every path below workdir except the state directory and the bus socket."""
    found = set()
    for root, dirs, files in os.walk(workdir):
        if root.startswith(state_dir):
            continue
        found.update(os.path.join(root, name) for name in dirs + files)
    return found


def qemu_argv(marinad, path):
    pid = marinad.prop(path, MACHINE_IFACE, "Pid")
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [arg.decode() for arg in f.read().split(b"\0")[:-1]]


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("name", ["../../etc", "..", "a/b", "x\ny", "tab\there", "nul\u0085"])
def test_path_like_and_control_names_refused(marinad, workdir, name):
    before = files_outside(workdir, marinad.state_dir)
    expect_error("InvalidArgument", marinad.create, name, memory_mib=64)
    xml = f'<machine xmlns="{NS}"><name>{GLib.markup_escape_text(name)}</name></machine>'
    expect_error("InvalidArgument", marinad.manager, "DefineMachine", "s", xml)
    assert marinad.manager("ListMachines") == []
    assert files_outside(workdir, marinad.state_dir) == before
    assert not os.path.exists(os.path.join(marinad.state_dir, "etc"))


def test_comma_name_and_path_escaped_on_qemu_command_line(marinad, workdir, disk):
    """Commas in QEMU's key=value syntax are doubled: a name or a disk path can
    never add an option of its own."""
    odd_dir = os.path.join(workdir, "dir,file=evil")
    os.mkdir(odd_dir)
    image = os.path.join(odd_dir, "boot,read-only=on.img")
    os.rename(disk(), image)
    before = files_outside(workdir, marinad.state_dir)
    name = 'a,b=c "quoted" \'single\''
    path = marinad.create(name, memory_mib=128, boot_disk=image)
    assert marinad.manager("FindMachine", "s", name) == path
    job = marinad.machine(path, "Start")
    assert marinad.wait_job(job)[0] == "completed"
    argv = qemu_argv(marinad, path)
    assert argv[argv.index("-name") + 1] == \
        'guest=a,,b=c "quoted" \'single\',debug-threads=on'
    escaped = image.replace(",", ",,")
    assert any(f"filename={escaped}," in arg for arg in argv), argv
    assert not any(arg.startswith("file=evil") for arg in argv)
    # The name is data in the XML too: the stored file reads back the same.
    xml = marinad.machine(path, "GetConfig")
    assert "<name>a,b=c &quot;quoted&quot; 'single'</name>" in xml or \
        "<name>a,b=c \"quoted\" 'single'</name>" in xml, xml
    marinad.machine(path, "TurnOff")
    marinad.wait_state(path, "off")
    assert files_outside(workdir, marinad.state_dir) == before


def test_register_machine_refuses_what_is_not_a_config_file(marinad, workdir):
    fifo = os.path.join(workdir, "fifo.xml")
    os.mkfifo(fifo)
    huge = os.path.join(workdir, "huge.xml")
    with open(huge, "wb") as f:
        f.truncate(2 * 1024 * 1024 * 1024)  # sparse: costs no disk
    start = time.monotonic()
    for path in [workdir, fifo, "/dev/zero", huge, "/proc/self/status"]:
        message = expect_error("InvalidArgument", marinad.manager, "RegisterMachine", "s", path)
        assert path in message or "limit" in message, message
    expect_error("InvalidArgument", marinad.manager, "RegisterMachine", "s", "relative.xml")
    expect_error("NotFound", marinad.manager, "RegisterMachine", "s", workdir + "/gone.xml")
    # Nothing above may block marinad: not the FIFO, not /dev/zero.
    assert time.monotonic() - start < 10
    assert marinad.manager("ListMachines") == []


def test_notes_and_paths_with_control_characters_refused(marinad, workdir):
    expect_error("InvalidArgument", marinad.create, "n1", memory_mib=64, notes="bell\x07")
    expect_error("InvalidArgument", marinad.create, "n2", memory_mib=64, notes="esc\x1b[2J")
    expect_error("InvalidArgument", marinad.create, "n3", memory_mib=64,
                 boot_disk=workdir + "/a\nb.img")
    expect_error("InvalidArgument", marinad.create, "n4", memory_mib=64, cdrom="relative.iso")
    # Wrong types in a{sv}: each key names the type it wants.
    for key, value in [("vcpus", GLib.Variant("t", 2)), ("notes", GLib.Variant("i", 1)),
                       ("boot-order", GLib.Variant("s", "disk")),
                       ("cpu-weight", GLib.Variant("s", "100"))]:
        message = expect_error("InvalidArgument", marinad.create, "typed", memory_mib=64,
                               **{key: value})
        assert key in message
    assert marinad.manager("ListMachines") == []


def define_huge(marinad):
    notes = "x" * (50 * 1024 * 1024)
    xml = f'<machine xmlns="{NS}"><name>huge</name><notes>{notes}</notes></machine>'
    with pytest.raises(GLib.Error) as info:
        marinad.manager("DefineMachine", "s", xml, timeout=120)
    return dbus_error_name(info.value), info.value.message


def test_huge_xml_refused_without_memory_growth(marinad):
    """50 MB of XML. The system bus refuses messages over 32 MiB itself
    (LimitsExceeded); this private bus, like the session bus, lets it through,
    and marinad refuses it by its size before any parsing. GDBus keeps its read
    buffer at the largest message it has read, so the first huge message may
    leave up to its own size behind, once: repeating it must not add more."""
    pid = marinad.process.pid
    marinad.create("warm-up", memory_mib=64)
    rss_before = vm_rss_kib(pid)
    name, message = define_huge(marinad)
    assert name in (ERROR_PREFIX + "InvalidArgument",
                    "org.freedesktop.DBus.Error.LimitsExceeded"), (name, message)
    if name == ERROR_PREFIX + "InvalidArgument":
        assert "the limit is 1048576 bytes" in message, message
    time.sleep(TRIM_WAIT)
    rss_after_one = vm_rss_kib(pid)
    assert rss_after_one - rss_before < (50 + 8) * 1024
    for _ in range(3):
        assert define_huge(marinad)[0] == name
    time.sleep(TRIM_WAIT)
    growth = vm_rss_kib(pid) - rss_after_one
    assert growth < 4 * 1024, f"VmRSS grew by {growth} KiB over three more huge calls"
    assert marinad.process.poll() is None
    assert len(marinad.manager("ListMachines")) == 1


def send_async(connection, path, interface, method, params, pending):
    def done(conn, result):
        try:
            conn.call_finish(result)
            pending["ok"] += 1
        except GLib.Error:
            pending["errors"] += 1
        pending["left"] -= 1
    pending["left"] += 1
    connection.call(BUS_NAME, path, interface, method, params, None, 0, 60000, None, done)


def malformed_calls(workdir, machine):
    """A thousand calls that are each wrong in some way."""
    bad_xml = ["", "<", "<machine/>", "<!DOCTYPE x><x/>", "\u00e9" * 1000,
               f'<machine xmlns="{NS}"><name>a</name><memory>-1</memory></machine>']
    calls = []
    for i in range(1000):
        kind = i % 10
        if kind == 0:
            calls.append((MANAGER_PATH, MANAGER_IFACE, "CreateMachine",
                          GLib.Variant("(sa{sv})", (f"bad/{i}", {}))))
        elif kind == 1:
            calls.append((MANAGER_PATH, MANAGER_IFACE, "CreateMachine",
                          GLib.Variant("(sa{sv})", (f"m{i}", {"memory-mib": GLib.Variant("s", "x")}))))
        elif kind == 2:
            calls.append((MANAGER_PATH, MANAGER_IFACE, "DefineMachine",
                          GLib.Variant("(s)", (bad_xml[i % len(bad_xml)],))))
        elif kind == 3:
            calls.append((MANAGER_PATH, MANAGER_IFACE, "RegisterMachine",
                          GLib.Variant("(s)", (["", "rel", "/dev/zero", workdir][i % 4],))))
        elif kind == 4:  # wrong signature altogether
            calls.append((MANAGER_PATH, MANAGER_IFACE, "DefineMachine", GLib.Variant("(u)", (i,))))
        elif kind == 5:
            calls.append((MANAGER_PATH, MANAGER_IFACE, "NoSuchMethod", None))
        elif kind == 6:
            calls.append((MANAGER_PATH, MANAGER_IFACE, "GetEvents",
                          GLib.Variant("(a{sv})", ({"limit": GLib.Variant("s", "all")},))))
        elif kind == 7:
            calls.append((machine, MACHINE_IFACE, "SetCpuAllocation",
                          GLib.Variant("(uuu)", (0, 500, 900))))
        elif kind == 8:
            calls.append((machine, MACHINE_IFACE, "AttachScript",
                          GLib.Variant("(ss)", ("no-event", "../../bin/sh"))))
        else:
            calls.append((f"/org/marinavm/Marina1/Machine/{'0' * 32}", MACHINE_IFACE, "Start",
                          None))
    return calls


def test_thousand_malformed_calls_leave_marinad_serving(marinad, bus, workdir):
    pid = marinad.process.pid
    machine = marinad.create("bystander", memory_mib=64)
    attacker = bus.connect()
    pending = {"left": 0, "ok": 0, "errors": 0}
    for call in malformed_calls(workdir, machine):
        send_async(attacker, *call, pending)
    # A second client is answered while the flood is being handled.
    other = bus.connect()
    start = time.monotonic()
    reply = other.call_sync(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ListMachines", None, None,
                            0, 10000, None)
    assert reply.unpack()[0] == [machine]
    assert time.monotonic() - start < 5
    wait_until(lambda: pending["left"] == 0, 120, "the malformed calls to be answered")
    assert pending == {"left": 0, "ok": 0, "errors": 1000}
    assert marinad.process.poll() is None and marinad.process.pid == pid
    start = time.monotonic()
    assert marinad.manager("ListMachines") == [machine]
    assert time.monotonic() - start < 2
    assert marinad.machine(machine, "GetConfig")
    assert 'weight="100"' in marinad.machine(machine, "GetConfig")
    attacker.close_sync(None)
