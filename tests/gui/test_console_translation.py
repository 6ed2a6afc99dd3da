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


def test_help_is_german():
    require_german()
    result = subprocess.run([CONSOLE, "--help"], capture_output=True, text=True, check=True,
                            env=dict(os.environ, **GERMAN))
    assert "Aufruf:" in result.stdout
    assert "Den Sitzungsbus verwenden (marinad --session)" in result.stdout
    assert "--address=ADRESSE" in result.stdout
