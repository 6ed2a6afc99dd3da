# SPDX-License-Identifier: LGPL-2.1-or-later
"""The test guest boots from each kind of disk: a fixed VHD, a dynamic VHD, a
qcow2, and a qcow2 differencing child of each; two machines run at once from
children of one parent; a machine on a child of a VHD saves its state."""

import os
import subprocess

import pytest
from gi.repository import GLib

from marina_harness import open_serial, serial_roundtrip, wait_for_guest_shell

FORMATS = {
    "vhd-fixed": ("vpc", "subformat=fixed,force_size=on", ".vhd"),
    "vhd-dynamic": ("vpc", "subformat=dynamic,force_size=on", ".vhd"),
    "qcow2": ("qcow2", None, ".qcow2"),
}


def image_of(guest_image, directory, kind):
    fmt, options, suffix = FORMATS[kind]
    path = os.path.join(directory, kind + suffix)
    subprocess.run(["qemu-img", "convert", "-q", "-O", fmt] + (["-o", options] if options else [])
                   + [guest_image, path], check=True)
    return path, fmt


def child_of(parent, fmt, name):
    path = os.path.join(os.path.dirname(parent), name)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", parent, "-F", fmt, path],
                   check=True)
    return path


def boot(marinad, name, image):
    machine = marinad.create(name, memory_mib=128, boot_disk=image)
    assert marinad.wait_job(marinad.machine(machine, "Start"))[0] == "completed"
    wait_for_guest_shell(marinad, machine)
    return machine


def turn_off(marinad, machine):
    marinad.machine(machine, "TurnOff")
    marinad.wait_state(machine, "off")


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_boots_from_a_disk_and_from_a_child_of_it(marinad, guest_image, workdir, kind):
    parent, fmt = image_of(guest_image, workdir, kind)
    turn_off(marinad, boot(marinad, "parent", parent))
    with open(parent, "rb") as f:
        before = f.read()
    child = child_of(parent, fmt, "child.qcow2")
    turn_off(marinad, boot(marinad, "child", child))
    # The guest wrote through the child: its parent is unchanged.
    with open(parent, "rb") as f:
        assert f.read() == before
    # Now a parent with a child, it is read-only: its own machine no longer starts.
    machine = marinad.manager("FindMachine", "s", "parent")
    with pytest.raises(GLib.Error) as info:
        marinad.wait_job(marinad.machine(machine, "Start"))
        raise AssertionError("started")
    assert "a parent with children is read-only" in info.value.message
    assert "child.qcow2" in info.value.message
    assert marinad.state(machine) == "off"


def test_two_machines_run_at_once_from_children_of_one_parent(marinad, guest_image, workdir):
    parent, fmt = image_of(guest_image, workdir, "vhd-dynamic")
    first = boot(marinad, "first", child_of(parent, fmt, "first.qcow2"))
    second = boot(marinad, "second", child_of(parent, fmt, "second.qcow2"))
    assert marinad.state(first) == "running" and marinad.state(second) == "running"
    turn_off(marinad, first)
    turn_off(marinad, second)


def test_a_machine_on_a_child_of_a_vhd_saves_its_state(marinad, guest_image, workdir):
    parent, fmt = image_of(guest_image, workdir, "vhd-dynamic")
    machine = boot(marinad, "saver", child_of(parent, fmt, "child.qcow2"))
    sock = open_serial(marinad, machine)
    try:
        serial_roundtrip(sock, "echo kept > /tmp/mark; echo MARKED-$((2*4))", "MARKED-8")
    finally:
        sock.close()
    assert marinad.wait_job(marinad.machine(machine, "Save"))[0] == "completed"
    assert marinad.wait_job(marinad.machine(machine, "Start"))[0] == "completed"
    sock = open_serial(marinad, machine)
    try:
        serial_roundtrip(sock, "cat /tmp/mark", "kept")
    finally:
        sock.close()
    turn_off(marinad, machine)
