# SPDX-License-Identifier: LGPL-2.1-or-later
"""marina-console speaks the user's language: po/de.po, compiled by the build
into build/po/de/LC_MESSAGES/marina.mo, reached through MARINA_LOCALEDIR as
the uninstalled program has no installed catalogue."""

import os
import subprocess

from console_harness import CONSOLE
from marina_harness import GERMAN, require_german, wait_until


def window_name(viewer):
    return viewer.xdotool("getwindowname", viewer.window_id()).strip()


def test_console_window_speaks_german(marinad, console, xvfb):
    require_german()
    marinad.create("schiff", memory_mib=128)
    german = console("schiff", env=GERMAN)
    english = console("schiff")
    # The title is the machine's name and its state, as the header shows them.
    wait_until(lambda: window_name(german) == "schiff — Aus", 30,
               "the German window title 'schiff — Aus'")
    wait_until(lambda: window_name(english) == "schiff — Off", 30,
               "the English window title 'schiff — Off'")
    # The status page said what it was doing in German too.
    german.wait_log("status: Die Maschine wird gesucht …")
    assert "Looking for the machine" not in german.log()


def test_unknown_machine_in_german(marinad, console, xvfb):
    require_german()
    german = console("kein-schiff", env=GERMAN)
    wait_until(lambda: window_name(german) == "kein-schiff — Nicht verbunden", 30,
               "the German title of a machine that is not there")


def test_help_is_german(xvfb):  # xvfb: skipped where marina-console is not built
    require_german()
    result = subprocess.run([CONSOLE, "--help"], capture_output=True, text=True, check=True,
                            env=dict(os.environ, **GERMAN))
    assert "Aufruf:" in result.stdout
    assert "Den Sitzungsbus verwenden (marinad --session)" in result.stdout
    assert "--address=ADRESSE" in result.stdout


# Loads the window's menus from its .ui file as GtkBuilder does in
# marina-console (domain "marina"), in a process of its own with the
# environment's locale, and prints each item's label.
MENU_LABELS = r"""
import locale, os, sys, xml.etree.ElementTree as ET
import gi
gi.require_version("Gtk", "4.0")
from gi.repository import Gtk
locale.setlocale(locale.LC_ALL, "")
locale.bindtextdomain("marina", os.environ["MARINA_LOCALEDIR"])
root = ET.parse(sys.argv[1]).getroot()
interface = ET.Element("interface", domain=root.get("domain"))
interface.extend(root.findall("menu"))
builder = Gtk.Builder.new_from_string(ET.tostring(interface, encoding="unicode"), -1)
for menu in root.findall("menu"):
    model = builder.get_object(menu.get("id"))
    for s in range(model.get_n_items()):
        section = model.get_item_link(s, "section")
        for i in range(section.get_n_items()):
            print(section.get_item_attribute_value(i, "label", None).get_string())
"""


def test_menus_are_german(xvfb):
    require_german()
    ui = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "gui", "marina-console-window.ui")
    labels = subprocess.run(["/usr/bin/python3", "-c", MENU_LABELS, ui], capture_output=True,
                            text=True, check=True,
                            env=dict(os.environ, DISPLAY=xvfb.display, **GERMAN)).stdout.split("\n")
    for label in ("_Pausieren", "_Fortsetzen", "_Ausschalten", "_Bildschirmfoto aufnehmen",
                  "Strg+Alt+Entf"):
        assert label in labels, labels
    assert "_Pause" not in labels and "Ctrl+Alt+Del" not in labels
