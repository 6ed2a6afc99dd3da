# SPDX-License-Identifier: LGPL-2.1-or-later
"""The manager's keyboard and accessibility: every icon-only button has a
name a screen reader can say, every accelerator is in the shortcuts window,
and the shortcuts window opens."""

import os
import re
import subprocess
import xml.etree.ElementTree as ET

from console_harness import MANAGER
from marina_harness import wait_until

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUI = os.path.join(SOURCE_DIR, "gui")
MANAGER_UI = ["marina-window.ui", "marina-machine-row.ui", "marina-event-log.ui",
              "marina-new-machine-dialog.ui", "marina-disks-page.ui", "marina-job-row.ui",
              "marina-new-disk-dialog.ui", "marina-networks-page.ui",
              "marina-new-network-dialog.ui", "marina-machine-settings.ui",
              "marina-preferences-dialog.ui"]


def properties(element):
    return {p.get("name"): (p.text or "") for p in element.findall("property")}


def test_icon_only_buttons_have_accessible_names():
    for name in MANAGER_UI:
        root = ET.parse(os.path.join(GUI, name)).getroot()
        for button in root.iter("object"):
            if button.get("class") not in ("GtkButton", "GtkMenuButton", "GtkToggleButton"):
                continue
            props = properties(button)
            if "icon-name" not in props or "label" in props:
                continue
            accessible = button.find("accessibility")
            labels = properties(accessible) if accessible is not None else {}
            assert labels.get("label"), f"{name}: a {props['icon-name']} button has no name"
            assert props.get("tooltip-text"), f"{name}: a {props['icon-name']} button has no tooltip"


def application_accels():
    source = open(os.path.join(GUI, "marina-application.c")).read()
    return dict(re.findall(r'\{ "([a-z.:-]+)", \{ "([^"]+)", NULL \} \}', source))


def test_every_accelerator_is_in_the_shortcuts_window():
    accels = application_accels()
    assert "win.start" in accels and "app.quit" in accels
    overlay = ET.parse(os.path.join(GUI, "gtk", "help-overlay.ui")).getroot()
    shown = {properties(s)["accelerator"] for s in overlay.iter("object")
             if s.get("class") == "GtkShortcutsShortcut"}
    assert set(accels.values()) <= shown, set(accels.values()) - shown


def window_names(app):
    names = []
    for window in app.xdotool("search", "--onlyvisible", "--pid", str(app.process.pid)).split():
        names.append(app.xdotool("getwindowname", window).strip())
    return names


def test_the_shortcuts_window_opens(marinad, manager):
    app = manager()
    app.wait_log("event log:")
    assert "Keyboard Shortcuts" not in window_names(app)
    app.activate("show-help-overlay")
    wait_until(lambda: "Keyboard Shortcuts" in window_names(app), 20, "the shortcuts window")


def test_session_and_address_exclude_each_other(xvfb):
    result = subprocess.run([MANAGER, "--session", "--address", "unix:path=/nonexistent"],
                            capture_output=True, text=True, timeout=30,
                            env=dict(os.environ, DISPLAY=xvfb.display, LANGUAGE="", LC_ALL="",
                                     LANG="C.UTF-8"))
    assert result.returncode == 2
    assert "--session and --address exclude each other" in result.stderr
