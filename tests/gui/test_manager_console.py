# SPDX-License-Identifier: LGPL-2.1-or-later
"""The manager opens a machine's console (marina-console in its own window,
reaching marinad the way the manager does), and manages marinad on another
host through ssh (marina --connect ssh://), under Xvfb against a real
marinad and the test guest."""

import os
import re

from console_harness import CONSOLE, Console, distinct_colours, load_png
from marina_harness import MACHINE_IFACE, wait_for_guest_shell, wait_for_serial, wait_until
from test_console import matching_screenshots
from test_manager import keep

# The console's own messages land in the manager's log: it inherits them.
BOTH_LOGS = {"G_MESSAGES_DEBUG": "marina marina-console marina-vnc"}


class ChildProcess:
    """A process the manager started, seen from the test: by its pid."""

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None

    def poll(self):
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            state = "X"
        if state in ("Z", "X"):
            self.returncode = 0
            return 0
        return None


class OpenedConsole(Console):
    """A marina-console the manager opened; its log is the manager's."""

    def __init__(self, app, pid):
        self.xvfb = app.xvfb
        self.bus = app.bus
        self.name = "marina-console"
        self.log_path = app.log_path
        self.process = ChildProcess(pid)
        self.connection = app.bus.connect()
        self._name = None

    def stop(self):
        if self.process.poll() is None:
            os.kill(self.process.pid, 15)


def press(app, keys):
    """A key press in the manager's window, through X."""
    window = app.xdotool("search", "--sync", "--onlyvisible", "--pid",
                         str(app.process.pid)).split()[-1]
    app.xdotool("windowfocus", "--sync", window)
    app.xdotool("key", keys)


def open_console(app, name, count=1):
    press(app, "ctrl+o")
    app.wait_log(f"console of {name} opened (pid", count=count)
    pids = re.findall(rf"console of {re.escape(name)} opened \(pid (\d+)\)", app.log())
    return OpenedConsole(app, int(pids[count - 1]))


def test_console_opens_from_the_manager(marinad, running_machine, manager, workdir):
    wait_for_guest_shell(marinad, running_machine)
    app = manager(env=BOTH_LOGS)
    app.wait_log("selected guest")
    viewer = open_console(app, "guest")
    try:
        viewer.wait_log("console connected")
        # The console's window is its own, and shows the guest's screen.
        assert viewer.window_id() not in app.xdotool("search", "--pid",
                                                     str(app.process.pid)).split()
        diff, mine = matching_screenshots(marinad, running_machine, viewer, workdir)
        keep(mine)
        assert distinct_colours(load_png(mine)) > 1, "the console opened blank"
        assert diff < 0.01, f"{diff:.1%} of the console differs from Screenshot()"
        # It is a working console: what is typed reaches the guest.
        viewer.type("echo from-manager-$((6*7)) > /dev/ttyS0")
        wait_for_serial(marinad, running_machine, "from-manager-42", timeout=60)
        # One console per machine: a second asks says so instead.
        press(app, "ctrl+o")
        app.wait_log("message: The console of guest is already open.")
        assert app.log().count("console of guest opened (pid") == 1
        # Closed by its user, it can be opened again.
        viewer.activate("close")
        app.wait_log("console of guest closed")
        assert "The console of guest failed" not in app.log()
        again = open_console(app, "guest", count=2)
        again.wait_log("console connected", count=2)
        again.stop()
    finally:
        viewer.stop()


def test_a_console_that_fails_is_reported(marinad, running_machine, manager):
    app = manager(env={"MARINA_CONSOLE": "/bin/false"})
    app.wait_log("selected guest")
    app.activate("console")
    app.wait_log("message: The console of guest failed (exit status 1)")


def test_manager_over_ssh(marinad, running_machine, manager, sshd, workdir):
    """--connect ssh://: the bus through marina-console --stdio-bridge on the
    far side; the machine list, thumbnails and actions work through it, and a
    console opened from there goes through ssh as well."""
    wait_for_guest_shell(marinad, running_machine)
    # --address names the bus on the remote host.
    app = manager("--connect", sshd.url(), "--remote-console", CONSOLE,
                  env=dict(BOTH_LOGS, MARINA_SSH_OPTIONS=sshd.client_options()))
    app.wait_log("selected guest")
    assert "--stdio-bridge" in app.log(), "the bus did not go through ssh"
    app.wait_log("thumbnail guest: ")
    picture = keep(app.save_picture(os.path.join(workdir, "manager-over-ssh.png")))
    assert distinct_colours(load_png(picture)) > 10, "the window is blank"
    press(app, "ctrl+p")
    wait_until(lambda: marinad.prop(running_machine, MACHINE_IFACE, "State") == "paused", 30,
               "the machine to pause from the manager over ssh")
    press(app, "ctrl+r")
    wait_until(lambda: marinad.prop(running_machine, MACHINE_IFACE, "State") == "running", 30,
               "the machine to resume")
    viewer = open_console(app, "guest")
    try:
        viewer.wait_log("console connected")
        assert "--console-proxy" in app.log(), "the console did not go through ssh"
        diff, mine = matching_screenshots(marinad, running_machine, viewer, workdir)
        assert diff < 0.01, f"{diff:.1%} of the console differs from Screenshot()"
    finally:
        viewer.stop()


def test_connect_refuses_what_is_not_an_ssh_url(xvfb, bus, manager):
    app = manager("--connect", "http://example.org")
    assert app.process.wait(30) == 2
    assert "http://example.org is not ssh://[USER@]HOST[:PORT]" in app.log()
