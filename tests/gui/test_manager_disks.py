# SPDX-License-Identifier: LGPL-2.1-or-later
"""marina's disks page against a real marinad under Xvfb: disks created
through the New Disk dialog (its file name typed through X, the rest set
through the fill-new-disk test hook, Create pressed with its mnemonic), a
differencing child shown under its parent, a long creation followed by its
progress bar and cancelled with its Cancel button's action, and marinad's
refusal shown in its own words."""

import json
import os
import re
import subprocess

from console_harness import distinct_colours, load_png
from gi.repository import GLib
from marina_harness import JOB_IFACE, MANAGER_IFACE, MANAGER_PATH, wait_until
from test_manager import keep

DISK_IFACE = "org.marinavm.Marina1.Disk"
GIB = 1 << 30


def storage(marinad):
    return marinad.prop(MANAGER_PATH, MANAGER_IFACE, "StorageDirectory")


def disk_paths(marinad):
    return sorted(marinad.prop(d, DISK_IFACE, "Path") for d in marinad.manager("ListDisks"))


def dialog_window(app):
    return app.xdotool("search", "--sync", "--name", "^New Disk$").split()[-1]


def create_disk(app, name, **values):
    """The New Disk dialog: the name typed, the rest filled in, Alt+R."""
    app.activate("new-disk")
    window = dialog_window(app)
    app.xdotool("windowfocus", "--sync", window)
    app.xdotool("type", "--delay", "40", name)
    app.activate("fill-new-disk", GLib.Variant("a{sv}", {
        key.replace("_", "-"): GLib.Variant("i" if isinstance(value, int) else "s", value)
        for key, value in values.items()}))
    app.xdotool("windowfocus", "--sync", window)
    app.xdotool("key", "alt+r")


def followed_job(app, name, count=1):
    """The job the page follows for the operation on @name (its row's title)."""
    app.wait_log(f"{name})", count=count)
    return re.findall(r"disks: following (\S+) \([^)]*" + re.escape(name) + r"\)",
                      app.log())[count - 1]


def test_create_a_chain_and_see_it_as_a_tree(marinad, manager, workdir):
    app = manager()
    app.wait_log("disks: 0 listed")
    app.activate("show-page", GLib.Variant("s", "disks"))
    empty = keep(app.save_picture(os.path.join(workdir, "manager-disks-empty.png")))
    assert distinct_colours(load_png(empty)) > 10, "the empty disks page is blank"

    create_disk(app, "base", format="qcow2", size_mib=64)
    base = os.path.join(storage(marinad), "base.qcow2")
    job = followed_job(app, "base.qcow2")
    app.wait_log(f"job {job}: completed")
    app.wait_log("base.qcow2: done")
    assert disk_paths(marinad) == [base]
    assert marinad.prop(marinad.manager("ListDisks")[0], DISK_IFACE, "VirtualSize") == 64 << 20

    create_disk(app, "child", type="Differencing", parent=base)
    child = os.path.join(storage(marinad), "child.qcow2")
    job = followed_job(app, "child.qcow2")
    app.wait_log(f"job {job}: completed")
    disks = {marinad.prop(d, DISK_IFACE, "Path"): d for d in marinad.manager("ListDisks")}
    assert marinad.prop(disks[child], DISK_IFACE, "Parent") == disks[base]
    # The child under its parent, one level in.
    app.wait_log(f"disks: row {child} at depth 1")
    assert f"disks: row {base} at depth 0" in app.log()
    tree = keep(app.save_picture(os.path.join(workdir, "manager-disks-tree.png")))
    assert distinct_colours(load_png(tree)) > 10, "the disks page is blank"

    # marinad's refusal of a taken name, in its own words, in the dialog.
    create_disk(app, "base", format="qcow2", size_mib=64)
    app.wait_log("new disk: error: ")
    refusal = re.findall(r"new disk: error: (.*)", app.log())[-1]
    assert base in refusal or "exists" in refusal, refusal
    assert disk_paths(marinad) == [base, child]


def test_a_long_creation_shows_progress_and_cancels(marinad, manager, workdir):
    app = manager()
    app.wait_log("disks: 0 listed")
    app.activate("show-page", GLib.Variant("s", "disks"))
    create_disk(app, "big", format="VHD", type="Fixed size", size_mib=4 * 1024)
    job = followed_job(app, "big.vhd")
    # The bar moves with the job's Progress.
    wait_until(lambda: re.search(re.escape(f"job {job}: ") + r"([1-9]\d*)%", app.log()), 60,
               "progress shown")
    picture = keep(app.save_picture(os.path.join(workdir, "manager-disks-progress.png")))
    assert distinct_colours(load_png(picture)) > 10
    app.activate("cancel-job", GLib.Variant("s", job))
    app.wait_log(f"job {job}: cancelled")
    app.wait_log("big.vhd: cancelled")
    assert marinad.prop(job, JOB_IFACE, "Status") == "cancelled"
    assert disk_paths(marinad) == []
    assert os.listdir(storage(marinad)) == []


def test_compact_runs_as_a_job_and_a_refused_merge_shows_why(marinad, manager, workdir):
    base = os.path.join(storage(marinad), "base.qcow2")
    disk, job = marinad.manager("CreateDisk", "sa{sv}", base,
                                {"format": GLib.Variant("s", "qcow2"),
                                 "size": GLib.Variant("t", 64 << 20)})
    marinad.wait_job(job)
    app = manager()
    app.wait_log("disks: 1 listed")
    app.activate("show-page", GLib.Variant("s", "disks"))
    app.activate("select-disk", GLib.Variant("s", base))
    app.wait_log(f"disks: selected {base}")
    wait_until(lambda: describe_enabled(app, "compact-disk"), 10, "compact enabled")
    # A base has no parent to merge into.
    assert not describe_enabled(app, "merge-disk")
    assert describe_enabled(app, "convert-disk")
    app.activate("compact-disk")
    job = followed_job(app, "base.qcow2")
    app.wait_log(f"job {job}: completed")
    app.wait_log("Compacting base.qcow2: done")


def describe_enabled(app, action):
    reply = app.connection.call_sync(app.bus_name(), app.WINDOW_PATH, "org.gtk.Actions",
                                     "Describe", GLib.Variant("(s)", (action,)), None, 0, 5000,
                                     None)
    return reply.unpack()[0][0]


def qemu_io(path, command):
    return subprocess.run(["qemu-io", "-c", command, path], check=True, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout


def test_convert_and_merge_through_their_questions(marinad, manager, workdir):
    """Convert flattens the chain into a standalone disk that reads as the
    chain does; Merge writes the child's data into its parent. Both are
    asked first, and followed as jobs."""
    base = os.path.join(storage(marinad), "base.qcow2")
    child = os.path.join(storage(marinad), "child.qcow2")
    _, job = marinad.manager("CreateDisk", "sa{sv}", base, {
        "format": GLib.Variant("s", "qcow2"), "size": GLib.Variant("t", 64 << 20)})
    marinad.wait_job(job)
    qemu_io(base, "write -P 0x11 0 1M")
    _, job = marinad.manager("CreateDisk", "sa{sv}", child, {
        "format": GLib.Variant("s", "qcow2"), "type": GLib.Variant("s", "differencing"),
        "parent": GLib.Variant("s", base)})
    marinad.wait_job(job)
    qemu_io(child, "write -P 0x5a 1M 1M")
    app = manager()
    app.wait_log("disks: 2 listed")
    app.activate("show-page", GLib.Variant("s", "disks"))
    app.activate("select-disk", GLib.Variant("s", child))
    app.wait_log(f"disks: selected {child}")
    wait_until(lambda: describe_enabled(app, "merge-disk"), 10, "merge enabled for the child")

    # Convert: the question offers the same folder and format, "-converted".
    app.activate("convert-disk")
    app.wait_log("disks: asking Convert “child.qcow2”")
    picture = keep(app.save_picture(os.path.join(workdir, "manager-disks-convert.png"),
                                    "disk-dialog"))
    assert distinct_colours(load_png(picture)) > 10, "the convert question is blank"
    app.activate("respond-disk-dialog", GLib.Variant("s", "convert"))
    job = followed_job(app, "Converting child.qcow2")
    app.wait_log(f"job {job}: completed")
    converted = os.path.join(storage(marinad), "child-converted.qcow2")
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", converted],
                                     check=True, stdout=subprocess.PIPE).stdout)
    assert "backing-filename" not in info, "the converted disk still has a parent"
    subprocess.run(["qemu-img", "compare", child, converted], check=True)
    assert converted in disk_paths(marinad)

    # Merge: the base then holds the child's data.
    app.activate("merge-disk")
    app.wait_log("disks: asking Merge “child.qcow2” into its parent?")
    app.activate("respond-disk-dialog", GLib.Variant("s", "merge"))
    job = followed_job(app, "Merging child.qcow2")
    app.wait_log(f"job {job}: completed")
    merged = qemu_io(base, "read -P 0x5a 1M 1M")
    assert "Pattern verification failed" not in merged, merged
    assert "Pattern verification failed" not in qemu_io(base, "read -P 0x11 0 1M")
