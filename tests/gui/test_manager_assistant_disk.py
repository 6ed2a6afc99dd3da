# SPDX-License-Identifier: LGPL-2.1-or-later
"""The new machine assistant makes a new disk (the New Disk dialog, opened
from the assistant): a differencing child of a known disk, followed as a
job in the assistant, the machine made on it and booted from it; and a
long creation cancelled from the assistant, leaving no file behind."""

import os
import re
import shutil

from console_harness import distinct_colours, load_png
from gi.repository import GLib
from marina_harness import MACHINE_IFACE, MANAGER_IFACE, MANAGER_PATH, wait_for_guest_shell, \
    wait_until
from test_manager import assistant_window, fill_assistant, keep, press_create, type_name

DISK_IFACE = "org.marinavm.Marina1.Disk"


def storage(marinad):
    return marinad.prop(MANAGER_PATH, MANAGER_IFACE, "StorageDirectory")


def disks_by_path(marinad):
    return {marinad.prop(d, DISK_IFACE, "Path"): d for d in marinad.manager("ListDisks")}


def new_disk_in_assistant(app, name, **values):
    """The assistant's New Disk button, the dialog filled, Alt+R there."""
    app.activate("new-machine")
    type_name(app, name)
    fill_assistant(app, memory_mib=128, new_disk="yes")
    window = app.xdotool("search", "--sync", "--name", "^New Disk$").split()[-1]
    app.activate("fill-assistant-disk", GLib.Variant("a{sv}", {
        key.replace("_", "-"): GLib.Variant("i" if isinstance(value, int) else "s", value)
        for key, value in values.items()}))
    app.xdotool("windowfocus", "--sync", window)
    app.xdotool("key", "alt+r")
    app.wait_log("assistant: new disk ")


def test_assistant_makes_a_differencing_disk_and_boots_from_it(marinad, disk, manager,
                                                              workdir):
    base = os.path.join(storage(marinad), "base.img")
    shutil.copy(disk(), base)
    base_disk = marinad.manager("ImportDisk", "s", base)
    app = manager()
    app.wait_log("event log:")
    new_disk_in_assistant(app, "fresh", type="Differencing", parent=base)
    app.wait_log(r"ready")
    child = os.path.join(storage(marinad), "fresh.qcow2")
    assert f"assistant: new disk {child} ready" in app.log()
    picture = keep(app.save_picture(os.path.join(workdir, "manager-assistant-disk.png"),
                                    "assistant"))
    assert distinct_colours(load_png(picture)) > 10, "the assistant is blank"
    press_create(app)
    app.wait_log("assistant: created ")
    machine = re.findall(r"assistant: created (\S+)", app.log())[-1]
    disks = disks_by_path(marinad)
    assert marinad.prop(disks[child], DISK_IFACE, "Parent") == base_disk
    assert child in marinad.machine(machine, "GetConfig")
    # It boots from the chain: the guest's shell comes up on the child.
    app.wait_log("selected fresh")
    app.activate("start")
    wait_until(lambda: marinad.prop(machine, MACHINE_IFACE, "State") == "running", 60,
               "the new machine to run")
    wait_for_guest_shell(marinad, machine)


def test_assistant_cancels_a_long_new_disk(marinad, manager, workdir):
    app = manager()
    app.wait_log("event log:")
    new_disk_in_assistant(app, "big", format="VHD", type="Fixed size", size_mib=4 * 1024)
    # The assistant follows the job, and Create waits for it.
    wait_until(lambda: re.search(r"job \S+: [1-9]\d*%", app.log()), 60, "progress shown")
    picture = keep(app.save_picture(os.path.join(workdir, "manager-assistant-progress.png"),
                                    "assistant"))
    assert distinct_colours(load_png(picture)) > 10
    fill_assistant(app, cancel_disk="yes")
    app.wait_log("assistant: The new disk was cancelled.")
    assert not os.path.exists(os.path.join(storage(marinad), "big.vhd"))
    assert marinad.manager("ListDisks") == []
    # The assistant stays, without a disk, and can still make the machine.
    assert assistant_window(app)
    press_create(app)
    app.wait_log("assistant: created ")
    assert marinad.manager("ListMachines") != []
