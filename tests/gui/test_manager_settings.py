# SPDX-License-Identifier: LGPL-2.1-or-later
"""marina's machine settings against a real marinad under Xvfb: settings
changed in the dialog (values through the fill-settings test hook, Apply
pressed with its mnemonic through X) and read back from marinad and from
GetConfig; a network adapter added; and, while the machine runs, the
hardware settings greyed out with the reason while notes still change."""

import os

from console_harness import distinct_colours, load_png
from gi.repository import GLib
from marina_harness import MACHINE_IFACE
from test_manager import keep


def fill(app, **values):
    app.activate("fill-settings", GLib.Variant("a{sv}", {
        key.replace("_", "-"): GLib.Variant("i" if isinstance(value, int) else "s", value)
        for key, value in values.items()}))


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
    picture = keep(app.save_picture(os.path.join(workdir, "manager-settings-running.png"),
                                    "settings"))
    assert distinct_colours(load_png(picture)) > 10
    # Notes and CPU resources change while it runs.
    fill(app, notes="running notes", weight=250)
    press_apply(app, window)
    assert marinad.prop(machine, MACHINE_IFACE, "Notes") == "running notes"
    assert marinad.prop(machine, MACHINE_IFACE, "RelativeWeight") == 250
    assert marinad.prop(machine, MACHINE_IFACE, "MemoryMiB") == 128
    assert marinad.state(machine) == "running"
