# SPDX-License-Identifier: LGPL-2.1-or-later
"""marina's machine settings against a real marinad under Xvfb: settings
changed in the dialog (values through the fill-settings test hook, Apply
pressed with its mnemonic through X) and read back from marinad and from
GetConfig; a network adapter added; additional disks attached (the bus's
limit refused in marinad's words) and detached; the floppy of a legacy
machine, and none in the modern profile; COM2 and LPT1 (a port file outside
storage refused in marinad's words, LPT1 only in the legacy profile); undo
disks, their action, commit and discard; and, while the machine runs, the hardware settings greyed out
with the reason while notes, CPU resources and the CD/DVD still change."""

import os

from console_harness import difference, distinct_colours, load_png
from gi.repository import GLib
from marina_harness import MACHINE_IFACE
from test_attach_disks import image
from test_manager import keep


def variant(value):
    # bool first: it is an int to Python.
    return GLib.Variant("b" if isinstance(value, bool) else "i" if isinstance(value, int) else "s",
                        value)


def fill(app, **values):
    app.activate("fill-settings", GLib.Variant("a{sv}", {
        key.replace("_", "-"): variant(value) for key, value in values.items()}))


def pictures(app, window, path, scrolls=(8, 8)):
    """The dialog as shown, then scrolled down by mouse wheel, step by step:
    every group, one picture after another (path-1.png, path-2.png, ...)."""
    taken = []
    for n, clicks in enumerate((0,) + tuple(scrolls), 1):
        if clicks:
            app.xdotool("mousemove", "--window", window, "300", "500", "click", "--repeat",
                        str(clicks), "--delay", "30", "5")
        picture = keep(app.save_picture(f"{path}-{n}.png", "settings"))
        assert distinct_colours(load_png(picture)) > 10, "the settings dialog is blank"
        taken.append(load_png(picture))
    return taken


def open_settings(app, name):
    app.activate("select-machine", GLib.Variant("s", name))
    app.wait_log(f"selected {name}")
    count = app.log().count(f"settings: loaded {name}") + 1
    app.activate("machine-settings")
    app.wait_log(f"settings: loaded {name}", count=count)
    return app.xdotool("search", "--sync", "--name", f"^Settings of {name}$").split()[-1]


def press_apply(app, window):
    count = app.log().count("settings: applied") + 1
    app.xdotool("windowfocus", "--sync", window)
    app.xdotool("key", "alt+a")
    app.wait_log("settings: applied", count=count)


def test_settings_change_and_read_back(marinad, disk, manager, workdir):
    machine = marinad.create("ship", memory_mib=128, boot_disk=disk())
    app = manager()
    app.wait_log("event log:")
    window = open_settings(app, "ship")
    app.wait_log("settings: hardware changeable")
    fill(app, memory_mib=192, vcpus=2, notes="Build server, 2nd floor", autostart="Always",
         delay=10, stop="Turn off", weight=300, maximum=80)
    picture = keep(app.save_picture(os.path.join(workdir, "manager-settings.png"), "settings"))
    assert distinct_colours(load_png(picture)) > 10, "the settings dialog is blank"
    press_apply(app, window)

    assert marinad.prop(machine, MACHINE_IFACE, "MemoryMiB") == 192
    assert marinad.prop(machine, MACHINE_IFACE, "VCpus") == 2
    assert marinad.prop(machine, MACHINE_IFACE, "Notes") == "Build server, 2nd floor"
    assert marinad.prop(machine, MACHINE_IFACE, "Autostart") == "always"
    assert marinad.prop(machine, MACHINE_IFACE, "AutostartDelay") == 10
    assert marinad.prop(machine, MACHINE_IFACE, "StopAction") == "turn-off"
    assert marinad.prop(machine, MACHINE_IFACE, "RelativeWeight") == 300
    assert marinad.prop(machine, MACHINE_IFACE, "MaximumCapacity") == 80
    config = marinad.machine(machine, "GetConfig")
    assert "Build server, 2nd floor" in config and "192" in config

    # An adapter, added at once (not on Apply), shows in the dialog.
    open_settings(app, "ship")
    app.activate("settings-action", GLib.Variant("s", "settings.add-adapter"))
    app.wait_log("settings: 1 adapters")
    [adapter] = marinad.prop(machine, MACHINE_IFACE, "NetworkAdapters")
    assert adapter[0] == "nic0" and adapter[3] == "/"


def test_running_machine_locks_hardware_but_takes_notes(marinad, running_machine, manager,
                                                        workdir):
    machine = running_machine
    app = manager()
    app.wait_log("event log:")
    window = open_settings(app, "guest")
    app.wait_log("settings: hardware locked while not off")
    app.wait_log("settings: ports locked while not off")
    picture = keep(app.save_picture(os.path.join(workdir, "manager-settings-running.png"),
                                    "settings"))
    assert distinct_colours(load_png(picture)) > 10
    # Notes, CPU resources and the CD/DVD change while it runs.
    iso = image(marinad, "install.iso", 1024 * 1024, "raw")
    fill(app, notes="running notes", weight=250, cdrom=iso)
    press_apply(app, window)
    assert marinad.prop(machine, MACHINE_IFACE, "Cdrom") == iso
    assert marinad.prop(machine, MACHINE_IFACE, "Notes") == "running notes"
    assert marinad.prop(machine, MACHINE_IFACE, "RelativeWeight") == 250
    assert marinad.prop(machine, MACHINE_IFACE, "MemoryMiB") == 128
    assert marinad.state(machine) == "running"


def attach_in_dialog(app, path, bus, count, **more):
    fill(app, new_disk=path, new_bus=bus, **more)
    app.activate("settings-action", GLib.Variant("s", "settings.attach-disk"))
    app.wait_log(f"settings: {count} additional disks")


def test_legacy_floppy_undo_disks_and_additional_disks(marinad, disk, manager, workdir):
    machine = marinad.create("old", memory_mib=128, profile="legacy", boot_disk=disk())
    floppy = image(marinad, "boot.flp", 1440 * 1024, "raw")
    scsi = image(marinad, "data.qcow2")
    ide = [image(marinad, f"ide{n}.qcow2") for n in range(3)]
    quorum = image(marinad, "quorum.raw", fmt="raw")
    app = manager()
    app.wait_log("event log:")
    window = open_settings(app, "old")
    app.wait_log("settings: floppy changeable")

    # Disks attach at once, each in the first free slot of its bus.
    attach_in_dialog(app, scsi, "SCSI", 1)
    attach_in_dialog(app, quorum, "SCSI", 2, new_shared=True)
    attach_in_dialog(app, ide[0], "IDE", 3)
    attach_in_dialog(app, ide[1], "IDE", 4)
    assert marinad.prop(machine, MACHINE_IFACE, "Disks") == [
        (scsi, "scsi", 0, 0), (quorum, "scsi", 0, 1), (ide[0], "ide", 0, 1), (ide[1], "ide", 1, 1)]
    # The IDE bus is full: marinad's words in the toast, nothing attached.
    fill(app, new_disk=ide[2], new_bus="IDE")
    app.activate("settings-action", GLib.Variant("s", "settings.attach-disk"))
    app.wait_log("settings: The IDE bus holds 4 drives (2 channels × 2)")
    assert len(marinad.prop(machine, MACHINE_IFACE, "Disks")) == 4
    fill(app, detach_disk=ide[1])
    app.wait_log("settings: 3 additional disks")

    fill(app, floppy=floppy, undo_disks=True, undo_action="Discard the changes", notes="legacy")
    shown = pictures(app, window, os.path.join(workdir, "manager-settings-legacy"))
    assert difference(shown[0], shown[1]) > 0.2, "the dialog did not scroll to its other groups"
    press_apply(app, window)

    assert marinad.prop(machine, MACHINE_IFACE, "Floppy") == floppy
    assert marinad.prop(machine, MACHINE_IFACE, "UndoDisks") is True
    assert marinad.prop(machine, MACHINE_IFACE, "UndoAction") == "discard"
    # Apply kept the disks attached meanwhile.
    assert [d[0] for d in marinad.prop(machine, MACHINE_IFACE, "Disks")] == [scsi, quorum, ide[0]]
    config = marinad.machine(machine, "GetConfig")
    assert f'<floppy path="{floppy}"/>' in config
    assert f'<disk path="{quorum}" format="raw" bus="scsi" controller="0" unit="1" ' \
           'shared="yes"/>' in config

    # The floppy comes out as it went in.
    window = open_settings(app, "old")
    fill(app, floppy="")
    press_apply(app, window)
    assert marinad.prop(machine, MACHINE_IFACE, "Floppy") == ""


def test_modern_machine_has_no_floppy(marinad, disk, manager, workdir):
    marinad.create("new", memory_mib=128, boot_disk=disk())
    app = manager()
    app.wait_log("event log:")
    window = open_settings(app, "new")
    app.wait_log("settings: floppy unavailable (modern profile)")
    pictures(app, window, os.path.join(workdir, "manager-settings-modern"))
    # Choosing the legacy profile brings the drive.
    count = app.log().count("settings: floppy changeable") + 1
    fill(app, profile="Legacy")
    app.wait_log("settings: floppy changeable", count=count)


def test_undo_changes_committed_and_discarded(marinad, disk, manager):
    machine = marinad.create("undo", memory_mib=128, boot_disk=disk(), undo_disks=True,
                             undo_action="keep")

    def run_once():
        count = app.log().count("settings: undo changes present") + 1 if app else 0
        assert marinad.wait_job(marinad.machine(machine, "Start"))[0] == "completed"
        marinad.machine(machine, "TurnOff")
        marinad.wait_state(machine, "off")
        assert marinad.prop(machine, MACHINE_IFACE, "HasUndoChanges") is True
        if app:
            app.wait_log("settings: undo changes present", count=count)

    app = None
    run_once()
    app = manager()
    app.wait_log("event log:")
    open_settings(app, "undo")
    app.wait_log("settings: undo changes present")
    app.activate("settings-action", GLib.Variant("s", "settings.discard-undo"))
    app.wait_log("settings: The undo changes are discarded")
    app.wait_log("settings: undo changes none")
    assert marinad.prop(machine, MACHINE_IFACE, "HasUndoChanges") is False

    run_once()
    app.activate("settings-action", GLib.Variant("s", "settings.commit-undo"))
    app.wait_log("settings: The undo disk is committed into the boot disk.")
    assert marinad.prop(machine, MACHINE_IFACE, "HasUndoChanges") is False


def test_com_and_lpt_ports(marinad, disk, manager, workdir):
    legacy = marinad.create("old", memory_mib=128, profile="legacy", boot_disk=disk())
    modern = marinad.create("new", memory_mib=128, boot_disk=disk())
    com2, lpt1 = os.path.join(workdir, "com2.txt"), os.path.join(workdir, "printer.txt")
    app = manager()
    app.wait_log("event log:")
    window = open_settings(app, "old")
    app.wait_log("settings: ports changeable, LPT1 available")

    # A file outside the storage folders: marinad's words, and the dialog stays.
    fill(app, com2="Text file", com2_file="/etc/com2.txt")
    app.xdotool("windowfocus", "--sync", window)
    app.xdotool("key", "alt+a")
    app.wait_log("settings: Machine 'old': The COM2 file: '/etc' is outside Marina's storage "
                 "folders")
    assert "<ports>" not in marinad.machine(legacy, "GetConfig")

    fill(app, com2_file=com2, lpt1="Text file", lpt1_file=lpt1)
    shown = pictures(app, window, os.path.join(workdir, "manager-settings-ports"), (10, 3))
    assert difference(shown[0], shown[1]) > 0.2
    press_apply(app, window)
    config = marinad.machine(legacy, "GetConfig")
    assert f'<com2 type="file" path="{com2}"/>' in config
    assert f'<lpt1 type="file" path="{lpt1}"/>' in config

    # The dialog shows what is stored; the modern profile has no LPT1.
    assert "settings: COM2 none, LPT1 none" in app.log()
    open_settings(app, "old")
    app.wait_log("settings: COM2 file, LPT1 file")
    window = open_settings(app, "new")
    app.wait_log("settings: ports changeable, LPT1 unavailable (modern profile)")
    fill(app, com2="Named pipe")
    press_apply(app, window)
    assert '<com2 type="pipe"/>' in marinad.machine(modern, "GetConfig")
    assert "<lpt1" not in marinad.machine(modern, "GetConfig")
