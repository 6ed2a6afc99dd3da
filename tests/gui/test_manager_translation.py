# SPDX-License-Identifier: LGPL-2.1-or-later
"""marina, the manager, in German: po/de.po through MARINA_LOCALEDIR, as
tests/gui/test_console_translation.py does for marina-console."""

import os
import signal
import subprocess

from console_harness import MANAGER
from marina_harness import GERMAN, MACHINE_IFACE, require_german

from test_console_translation import MENU_LABELS

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_manager_speaks_german(marinad, manager, notifications, running_machine):
    require_german()
    app = manager(env=GERMAN)
    # The list's state label, as the row shows it.
    app.wait_log("machine guest: running, shown as “Läuft”")
    # The assistant's window title, as the X server has it.
    app.activate("new-machine")
    app.xdotool("search", "--sync", "--name", "^Neue Maschine$")
    # A notification in German: QEMU died without being asked to.
    os.kill(marinad.prop(running_machine, MACHINE_IFACE, "Pid"), signal.SIGKILL)
    _, _, body, _ = notifications.wait_for("„guest“ wurde unerwartet beendet")
    assert body == "Ihr QEMU-Prozess hat sich beendet, ohne dass jemand darum gebeten hat."
    app.wait_log("machine guest: off, shown as “Aus”")


def test_manager_help_is_german(xvfb):  # xvfb: skipped where the GUI is not built
    require_german()
    result = subprocess.run([MANAGER, "--help"], capture_output=True, text=True, check=True,
                            env=dict(os.environ, **GERMAN))
    assert "Die virtuellen Maschinen eines Marina-Servers verwalten." in result.stdout
    assert "Den Sitzungsbus verwenden (marinad --session)" in result.stdout


def test_manager_menu_is_german(xvfb):
    require_german()
    labels = subprocess.run(["/usr/bin/python3", "-c", MENU_LABELS,
                             os.path.join(SOURCE_DIR, "gui", "marina-window.ui")],
                            capture_output=True, text=True, check=True,
                            env=dict(os.environ, DISPLAY=xvfb.display, **GERMAN)).stdout.split("\n")
    for label in ("_Neue Maschine …", "_Tastenkürzel", "_Beenden"):
        assert label in labels, labels
    assert "_Quit" not in labels
