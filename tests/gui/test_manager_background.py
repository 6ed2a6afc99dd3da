# SPDX-License-Identifier: LGPL-2.1-or-later
"""marina keeps running in the background when its window closes (while
the preference says so and some notification is on): the notification of
a machine saved still comes, a notification's action opens the window
again, a notification turned off in the preferences is not sent, and with
the background preference off the closed manager exits."""

import configparser
import os
import time

from gi.repository import GLib
from marina_harness import wait_until

APP_PATH = "/org/marinavm/Manager"


def app_action(app, action, parameter=None):
    app.connection.call_sync(app.bus_name(), APP_PATH, "org.gtk.Actions", "Activate",
                             GLib.Variant("(sava{sv})", (action, [parameter] if parameter
                                                         is not None else [], {})),
                             None, 0, 10000, None)


def visible_windows(app):
    try:
        return app.xdotool("search", "--onlyvisible", "--pid", str(app.process.pid)).split()
    except Exception:
        return []


def save_and_restore(marinad, machine):
    assert marinad.wait_job(marinad.machine(machine, "Save"))[0] == "completed"
    assert marinad.wait_job(marinad.machine(machine, "Start"))[0] == "completed"


def test_runs_on_without_a_window_and_notifies(marinad, running_machine, manager, notifications,
                                               workdir):
    config_home = os.path.join(workdir, "config")
    app = manager(env={"XDG_CONFIG_HOME": config_home})
    app.wait_log("background: keeps running when the window closes")
    app.wait_log("event log:")
    app.bus_name()  # found through its window, which is about to close
    window = app.window_id()
    app.xdotool("windowfocus", "--sync", window)
    app.xdotool("key", "ctrl+w")
    wait_until(lambda: not visible_windows(app), 20, "the window to close")
    assert app.process.poll() is None, "marina quit with its window"

    # Still watching: the saved machine is notified with no window open.
    save_and_restore(marinad, running_machine)
    notifications.wait_for("“guest” was saved")
    # The notification's action brings the window back with the machine.
    app_action(app, "show-machine", GLib.Variant("s", running_machine))
    wait_until(lambda: visible_windows(app), 20, "the window again")

    # Turned off in the preferences (kept in the key file): not sent.
    app_action(app, "set-preference", GLib.Variant("(sb)", ("saved", False)))
    app.wait_log("preferences saved")
    conf = configparser.ConfigParser()
    conf.read(os.path.join(config_home, "marina", "manager.conf"))
    assert conf.get("notifications", "saved") == "false"
    sent = len(notifications.received)
    save_and_restore(marinad, running_machine)
    app.wait_log("-saved skipped: turned off in the preferences")
    assert len(notifications.received) == sent

    # Without the background preference the last window's close quits.
    app_action(app, "set-preference", GLib.Variant("(sb)", ("background", False)))
    app.wait_log("background: quits when the window closes")
    app.xdotool("windowfocus", "--sync", app.window_id())
    app.xdotool("key", "ctrl+w")
    assert app.wait_exit(30) == 0


def test_started_at_login_without_a_window(marinad, running_machine, manager, notifications,
                                           workdir):
    """marina --background, as the autostart entry runs it: no window, the
    notifications all the same, and the window when one is asked for."""
    app = manager("--background", env={"XDG_CONFIG_HOME": os.path.join(workdir, "config")})
    app.WINDOW_PATH = APP_PATH  # no window to find it by yet
    app.wait_log("background: keeps running when the window closes")
    assert not visible_windows(app), "--background opened a window"
    save_and_restore(marinad, running_machine)
    notifications.wait_for("“guest” was saved")
    assert not visible_windows(app)
    app_action(app, "show-machine", GLib.Variant("s", running_machine))
    wait_until(lambda: visible_windows(app), 20, "the window")


def test_started_at_login_with_the_preference_off_ends(marinad, manager, workdir):
    config_home = os.path.join(workdir, "config-off")
    os.makedirs(os.path.join(config_home, "marina"))
    with open(os.path.join(config_home, "marina", "manager.conf"), "w") as f:
        f.write("[notifications]\nbackground=false\n")
    app = manager("--background", env={"XDG_CONFIG_HOME": config_home})
    assert app.wait_exit(30) == 0
    assert "background: turned off in the preferences; quitting" in app.log()


def test_a_long_job_that_ends_notifies_and_a_short_one_does_not(marinad, manager,
                                                                notifications, workdir):
    storage = marinad.prop("/org/marinavm/Marina1/Manager", "org.marinavm.Marina1.Manager",
                           "StorageDirectory")
    app = manager(env={"XDG_CONFIG_HOME": os.path.join(workdir, "config")})
    app.wait_log("event log:")
    # A short one, started by someone else (a script): no notification.
    _, job = marinad.manager("CreateDisk", "sa{sv}", os.path.join(storage, "small.qcow2"), {
        "format": GLib.Variant("s", "qcow2"), "size": GLib.Variant("t", 64 << 20)})
    marinad.wait_job(job)
    app.wait_log(f"notification job-{job} skipped: 0 s is not long")
    # A long one: a 16 GiB fixed VHD, cancelled if still running after 11 s.
    _, job = marinad.manager("CreateDisk", "sa{sv}", os.path.join(storage, "big.vhd"), {
        "format": GLib.Variant("s", "vhd"), "type": GLib.Variant("s", "fixed"),
        "size": GLib.Variant("t", 16 << 30)})
    time.sleep(11)
    try:
        marinad.call(job, "org.marinavm.Marina1.Job", "Cancel")
    except GLib.Error:
        pass  # it finished first
    marinad.wait_job(job)
    wait_until(lambda: any(n[1] in ("Done: Creating big.vhd", "Cancelled: Creating big.vhd")
                           for n in notifications.received), 30,
               "the job's notification")
    assert not any("small.qcow2" in n[1] for n in notifications.received)
