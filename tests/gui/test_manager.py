# SPDX-License-Identifier: LGPL-2.1-or-later
"""marina, the manager, against the real marinad and the test guest under
Xvfb: the new machine assistant, the master status list with its thumbnail,
the actions of each state, the event log and desktop notifications.

The tests drive the window's actions through org.gtk.Actions (what a menu,
a button or an accelerator activates). In the assistant the machine's name
is typed through X and Create pressed with its mnemonic; the other fields
(spin buttons, drop-downs, the file chooser's path) are set through the
fill-assistant test hook (MARINA_TEST_HOOKS=1), which only puts values into
the widgets: the ordinary code reads them back and calls marinad."""

import os
import shutil
import signal
import subprocess
import time

import pytest

from console_harness import distinct_colours, load_png, rgb_pixels
from gi.repository import GLib
from marina_harness import (MACHINE_IFACE, MANAGER_IFACE, MANAGER_PATH, Marinad,
                            dbus_error_name, kill_machines, open_serial, remove_cgroups,
                            serial_roundtrip, variant_options, wait_for_guest_shell, wait_until)

THUMBNAIL_INTERVAL = 3  # seconds, as gui/marina-machine-row.c refreshes
ARTIFACTS = os.environ.get("MARINA_ARTIFACTS_DIR", "/tmp/marina-manager-artifacts")


def keep(path):
    """Keeps a picture for a person to look at after the run."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    shutil.copy(path, ARTIFACTS)
    return path


def dark_pixels(path):
    """Pixels as dark as a text console's background: the window's own
    widgets (Adwaita's light style) have next to none."""
    return sum(1 for r, g, b in rgb_pixels(load_png(path)) if r + g + b < 40)


def graph_pixels(path):
    """Pixels of the CPU graph's line, in Adwaita's accent blue (#3584e4)."""
    return sum(1 for r, g, b in rgb_pixels(load_png(path))
               if abs(r - 0x35) < 24 and abs(g - 0x84) < 24 and abs(b - 0xe4) < 24)


def describe(app, action):
    """(enabled, parameter type, state) of a window action, as a menu sees it."""
    reply = app.connection.call_sync(app.bus_name(), app.WINDOW_PATH, "org.gtk.Actions",
                                     "Describe", GLib.Variant("(s)", (action,)), None, 0, 5000,
                                     None)
    return reply.unpack()[0]


def enabled(app, action):
    return describe(app, action)[0]


def fill_assistant(app, **values):
    app.activate("fill-assistant", GLib.Variant("a{sv}", {
        key.replace("_", "-"): GLib.Variant("i" if isinstance(value, int) else "s", value)
        for key, value in values.items()}))


def assistant_window(app):
    return app.xdotool("search", "--sync", "--name", "^New Machine$").split()[-1]


def type_name(app, name):
    """Typed through X into the name field, which has the focus."""
    app.xdotool("windowfocus", "--sync", assistant_window(app))
    app.xdotool("type", "--delay", "40", name)


def press_create(app):
    """Alt+R: the mnemonic of the assistant's C_reate button, typed through X."""
    app.xdotool("windowfocus", "--sync", assistant_window(app))
    app.xdotool("key", "alt+r")


@pytest.fixture
def session_marinad(bus, workdir):
    """A session marinad: its nat networks are QEMU's user-mode networking,
    so the test makes no bridge, tap or route anywhere."""
    service = Marinad(bus, workdir, session=True).start()
    yield service
    service.stop()
    kill_machines(service)
    remove_cgroups(service.cgroup_name)
    print("---- marinad's log ----\n" + service.log())


def test_assistant_start_pause_resume_events_and_notifications(session_marinad, disk, manager,
                                                               notifications, workdir):
    marinad = session_marinad
    image = disk()
    network = marinad.manager("CreateNetwork", "sa{sv}", "lab", variant_options({"kind": "nat"}))
    app = manager()
    app.wait_log("event log:")
    empty = keep(app.save_picture(os.path.join(workdir, "manager-empty.png")))
    assert distinct_colours(load_png(empty)) > 10, "the empty window is blank"

    # The assistant, filled in and created as a person would.
    app.activate("new-machine")
    app.wait_log("assistant: 1 networks")
    type_name(app, "ship")
    fill_assistant(app, memory_mib=128, vcpus=1, profile="Modern", disk=image, network="lab",
                   boot="Hard disk, then CD/DVD")
    picture = keep(app.save_picture(os.path.join(workdir, "manager-assistant.png"), "assistant"))
    assert distinct_colours(load_png(picture)) > 10, "the assistant is blank"
    press_create(app)
    app.wait_log("assistant: created")
    machine = marinad.manager("FindMachine", "s", "ship")
    assert marinad.prop(machine, MACHINE_IFACE, "MemoryMiB") == 128
    assert marinad.prop(machine, MACHINE_IFACE, "BootDisk") == image
    assert marinad.prop(machine, MACHINE_IFACE, "BootOrder") == ["disk", "cdrom"]
    adapters = marinad.prop(machine, MACHINE_IFACE, "NetworkAdapters")
    assert [a[3] for a in adapters] == [network]
    app.wait_log("selected ship")
    assert enabled(app, "start") and not enabled(app, "pause")
    before = keep(app.save_picture(os.path.join(workdir, "manager-off.png")))

    # Start from the window: the state, then the guest's screen as a thumbnail.
    app.activate("start")
    app.wait_log("machine ship: running")
    marinad.wait_state(machine, "running")
    wait_for_guest_shell(marinad, machine)
    app.wait_log("thumbnail ship: ", count=2)
    running = os.path.join(workdir, "manager-running.png")
    # The CPU graph draws its line once it has two samples (Uptime moves once
    # a second while the window watches the metrics).
    wait_until(lambda: graph_pixels(app.save_picture(running)) > 40, 30, "the CPU graph")
    assert graph_pixels(before) == 0
    assert dark_pixels(keep(running)) > dark_pixels(before) + 5000, \
        "no guest screen in the thumbnail"
    screen = keep(app.xvfb.screenshot(os.path.join(workdir, "manager-xvfb.png")))
    assert distinct_colours(load_png(screen)) > 10, "the X screen is blank"
    assert enabled(app, "pause") and not enabled(app, "start") and not enabled(app, "delete")

    app.activate("pause")
    app.wait_log("machine ship: paused")
    assert marinad.state(machine) == "paused"
    assert enabled(app, "resume") and not enabled(app, "pause")
    app.activate("resume")
    app.wait_log("machine ship: running", count=2)
    assert marinad.state(machine) == "running"

    # The event log shows marinad's events as they come, filtered on demand.
    app.wait_log("event shown: info ship: Machine 'ship': paused -> running (user)")
    app.activate("event-severity", GLib.Variant("s", "error"))
    app.wait_log("shown (machine '', at least error)")
    app.activate("event-machine", GLib.Variant("s", machine))
    app.activate("event-severity", GLib.Variant("s", "info"))
    app.wait_log(f"shown (machine '{machine}', at least info)")

    # Saved: a notification through the stand-in org.freedesktop.Notifications.
    app.activate("save")
    marinad.wait_state(machine, "saved", timeout=120)
    notifications.wait_for("“ship” was saved")
    assert enabled(app, "discard-saved-state") and enabled(app, "start")

    # Restored, then QEMU dies: that stop was nobody's wish.
    app.activate("start")
    marinad.wait_state(machine, "running", timeout=120)
    os.kill(marinad.prop(machine, MACHINE_IFACE, "Pid"), signal.SIGKILL)
    marinad.wait_state(machine, "off")
    app_name, summary, body, hints = notifications.wait_for("“ship” stopped unexpectedly")
    assert body == "Its QEMU process ended without being asked to."


def test_actions_follow_the_state_and_failures_show_the_apis_message(marinad, disk, manager):
    host_memory = marinad.prop(MANAGER_PATH, MANAGER_IFACE, "HostMemoryMiB")
    machine = marinad.create("huge", memory_mib=host_memory, boot_disk=disk())
    app = manager()
    app.wait_log("selected huge")
    for action in ("start", "remove", "delete"):
        assert enabled(app, action), action
    for action in ("pause", "resume", "save", "discard-saved-state", "shutdown", "turn-off",
                   "reset"):
        assert not enabled(app, action), action
    # marinad refuses to start a machine the host cannot hold, and says why.
    try:
        marinad.machine(machine, "Start")
        raise AssertionError("Start of a machine as large as the host worked")
    except GLib.Error as error:
        assert dbus_error_name(error).endswith("InsufficientResources")
        expected = error.message.split(": ", 1)[1]
    app.activate("start")
    app.wait_log(f"error: {expected}")
    assert marinad.state(machine) == "off"


def test_remove_takes_the_machine_off_the_list(marinad, manager, workdir):
    first = marinad.create("alpha", memory_mib=64)
    marinad.create("beta", memory_mib=64)
    app = manager()
    app.wait_log("selected alpha")
    app.activate("select-machine", GLib.Variant("s", "beta"))
    app.wait_log("selected beta")
    app.activate("remove")
    wait_until(lambda: marinad.manager("ListMachines") == [first], 30, "beta to be removed")
    app.wait_log("selected alpha", count=2)


def thumbnails(app, name):
    return app.log().count(f"thumbnail {name}: ")


def test_thumbnails_only_while_the_window_shows(marinad, running_machine, manager):
    app = manager()
    app.wait_log("thumbnail guest: ", count=2)
    # Unmapped by the X server: with no window manager, GDK takes that for
    # minimised, as a desktop's "minimise" would make it.
    app.xdotool("windowunmap", "--sync", app.window_id())
    app.wait_log("window hidden")
    seen = thumbnails(app, "guest")
    time.sleep(2 * THUMBNAIL_INTERVAL + 1)
    # One may have been on its way.
    assert thumbnails(app, "guest") <= seen + 1, "thumbnails while nothing shows them"
    # Clicking a notification (app.show-machine) brings the window back.
    app.connection.call_sync(app.bus_name(), "/org/marinavm/Manager", "org.gtk.Actions",
                             "Activate", GLib.Variant("(sava{sv})", (
                                 "show-machine", [GLib.Variant("s", running_machine)], {})),
                             None, 0, 10000, None)
    app.wait_log("window shown", count=2)
    app.wait_log("thumbnail guest: ", count=seen + 2)


def test_lost_heartbeat_notifies_and_shows_as_a_warning(marinad, running_machine, manager,
                                                         notifications):
    path = running_machine
    wait_for_guest_shell(marinad, path)
    wait_until(lambda: marinad.prop(path, MACHINE_IFACE, "Heartbeat"), 90, "the heartbeat")
    app = manager()
    app.wait_log("selected guest")
    sock = open_serial(marinad, path)
    assert serial_roundtrip(sock, "killall qemu-ga; echo ga-$((2+2))-gone", "ga-4-gone")
    _, _, body, _ = notifications.wait_for("“guest” stopped answering", timeout=60)
    assert body == "Its guest agent missed its heartbeat: the guest may have hung."
    # Only the warning is left once the log shows warnings and errors.
    app.activate("event-severity", GLib.Variant("s", "warning"))
    app.wait_log("shown (machine '', at least warning)")
    shown = [l for l in app.log().splitlines() if "event log: " in l][-1]
    count, total = (int(n) for n in shown.split("event log: ")[1].split(" shown")[0].split(" of "))
    assert 1 <= count < total, shown
    warnings = marinad.events(min_severity="warning")
    assert count == len(warnings)
    assert any("HeartbeatLost" in e[4] for e in warnings)


def test_assistant_shows_a_refusal_and_stays_open(marinad, manager):
    marinad.create("taken", memory_mib=64)
    try:
        marinad.create("taken", memory_mib=64)
        raise AssertionError("a second machine 'taken' was created")
    except GLib.Error as error:
        assert dbus_error_name(error).endswith("Exists")
        expected = error.message.split(": ", 1)[1]
    app = manager()
    app.wait_log("selected taken")
    app.activate("new-machine")
    app.wait_log("assistant: 0 networks")
    type_name(app, "taken")
    press_create(app)
    app.wait_log(f"assistant: {expected}")
    assert "assistant: created" not in app.log()
    assert len(marinad.manager("ListMachines")) == 1
    # Still open: a better name, and it is made.
    type_name(app, "2")
    press_create(app)
    app.wait_log("assistant: created")
    assert marinad.manager("FindMachine", "s", "taken2")


def visible_windows(app):
    try:
        return set(app.xdotool("search", "--onlyvisible", "--pid", str(app.process.pid)).split())
    except subprocess.CalledProcessError:  # none yet
        return set()


def test_delete_asks_first(marinad, manager):
    machine = marinad.create("doomed", memory_mib=64)
    app = manager()
    app.wait_log("selected doomed")
    before = wait_until(lambda: visible_windows(app), 20, "the window")
    app.activate("delete")
    question = wait_until(lambda: visible_windows(app) - before, 20, "the question")
    time.sleep(1)
    assert marinad.manager("ListMachines") == [machine], "deleted without asking"
    # Alt+D: the mnemonic of its _Delete answer.
    app.xdotool("windowfocus", "--sync", question.pop())
    app.xdotool("key", "alt+d")
    wait_until(lambda: marinad.manager("ListMachines") == [], 30, "the machine to be deleted")
    app.wait_log("calling Delete on doomed")
