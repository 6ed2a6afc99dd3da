# SPDX-License-Identifier: LGPL-2.1-or-later
"""COM2 and LPT1, as Virtual Server had them: the test guest writes to
/dev/ttyS1 from its shell (on COM1, the serial console) and the text lands
in COM2's file on the host (a confined QEMU reaching it through its ACL
grant), or comes out of COM2's pipe, a Unix socket in the machine's runtime
folder; the port files' paths pass the same storage confinement as disks,
and LPT1 is the legacy profile's."""

import os
import socket

from marina_harness import (MACHINE_IFACE, open_serial, serial_roundtrip, wait_for_guest_shell,
                            wait_until)
from test_confinement import process_uid, qemu_pid
from test_disks import refused

TEXT = "MARINA-COM2-HELLO"


def with_ports(marinad, machine, ports):
    """The machine's configuration with <ports> as given (replacing any)."""
    config = marinad.machine(machine, "GetConfig")
    if "<ports>" in config:
        config = config[:config.index("  <ports>")] + "</machine>\n"
    return config.replace("</machine>", f"  <ports>{ports}</ports>\n</machine>")


def set_ports(marinad, machine, ports):
    marinad.machine(machine, "SetConfig", "s", with_ports(marinad, machine, ports))


def boot(marinad, machine):
    assert marinad.wait_job(marinad.machine(machine, "Start"))[0] == "completed"
    wait_for_guest_shell(marinad, machine)
    return open_serial(marinad, machine)


def guest_writes_com2(console, text=TEXT):
    assert serial_roundtrip(console, f"echo {text} > /dev/ttyS1; echo com2-$((40+2))", "com2-42")


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def test_guest_writes_to_com2_file(marinad, disk, workdir):
    machine = marinad.create("ports", memory_mib=128, boot_disk=disk())
    com2 = os.path.join(workdir, "com2.txt")
    set_ports(marinad, machine, f'<com2 type="file" path="{com2}"/>')
    assert f'<com2 type="file" path="{com2}"/>' in marinad.machine(machine, "GetConfig")

    console = boot(marinad, machine)
    # marinad made the file; QEMU, under a uid of its own, writes to it.
    assert os.path.isfile(com2)
    assert process_uid(qemu_pid(marinad, machine)) != 0
    guest_writes_com2(console)
    wait_until(lambda: TEXT in read(com2), 20, f"'{TEXT}' in {com2}")
    # An ISA device: it changes only while the machine is off.
    refused(lambda: set_ports(marinad, machine, '<com2 type="pipe"/>'), "InvalidState",
            "Cannot change COM2 of machine 'ports' while it is running")

    # The next run appends: the file keeps what the guest wrote before.
    marinad.machine(machine, "TurnOff")
    marinad.wait_state(machine, "off")
    console = boot(marinad, machine)
    guest_writes_com2(console, "SECOND-RUN")
    wait_until(lambda: "SECOND-RUN" in read(com2), 20, f"'SECOND-RUN' in {com2}")
    assert TEXT in read(com2)
    marinad.machine(machine, "TurnOff")
    marinad.wait_state(machine, "off")


def test_guest_writes_to_com2_pipe(marinad, disk):
    machine = marinad.create("pipe", memory_mib=128, boot_disk=disk())
    set_ports(marinad, machine, '<com2 type="pipe"/>')
    machine_id = marinad.prop(machine, MACHINE_IFACE, "Id")
    pipe = os.path.join(marinad.state_dir, "run", "machines", machine_id, "com2.sock")

    console = boot(marinad, machine)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(pipe)
    client.settimeout(0.5)
    guest_writes_com2(console)
    received = b""

    def arrived():
        nonlocal received
        try:
            received += client.recv(4096)
        except socket.timeout:
            pass
        return TEXT.encode() in received
    wait_until(arrived, 20, f"'{TEXT}' from {pipe}")
    client.close()
    marinad.machine(machine, "TurnOff")
    marinad.wait_state(machine, "off")
    assert not os.path.exists(pipe)


def test_port_files_confined_and_lpt1_legacy_only(marinad, disk, workdir):
    boot_disk = disk()
    modern = marinad.create("modern", memory_mib=128, boot_disk=boot_disk)
    legacy = marinad.create("legacy", memory_mib=128, profile="legacy")

    refused(lambda: set_ports(marinad, modern, '<com2 type="file" path="/etc/com2.txt"/>'),
            "InvalidArgument", "The COM2 file: '/etc' is outside Marina's storage folders",
            "put the file there")
    os.symlink("/etc/passwd", os.path.join(workdir, "passwd.txt"))
    refused(lambda: set_ports(marinad, modern, f'<com2 type="file" '
                                               f'path="{workdir}/passwd.txt"/>'),
            "InvalidArgument", "leads to '/etc/passwd'")
    refused(lambda: set_ports(marinad, modern, '<com2 type="file" path="com2.txt"/>'),
            "InvalidArgument", "The COM2 file path 'com2.txt' is not absolute")
    refused(lambda: set_ports(marinad, legacy, f'<com2 type="file" path="{boot_disk}"/>'),
            "InvalidArgument", "is a disk image known to Marina")
    refused(lambda: set_ports(marinad, modern, f'<lpt1 type="file" path="{workdir}/lpt1.txt"/>'),
            "InvalidArgument", "only the legacy profile has a parallel port")
    refused(lambda: set_ports(marinad, legacy, '<lpt1 type="pipe"/>'), "InvalidArgument",
            "element lpt1")
    assert "<ports>" not in marinad.machine(modern, "GetConfig")

    lpt1 = os.path.join(workdir, "printer.txt")
    set_ports(marinad, legacy, f'<lpt1 type="file" path="{lpt1}"/>')
    assert f'<lpt1 type="file" path="{lpt1}"/>' in marinad.machine(legacy, "GetConfig")
