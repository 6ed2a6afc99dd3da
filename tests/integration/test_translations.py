# SPDX-License-Identifier: LGPL-2.1-or-later
"""marinad answers in its own locale's language (po/de.po): a session
instance speaks its user's language, a system one the host's."""

import os
import re
import subprocess

import pytest
from gi.repository import GLib

from marina_harness import BUILD_DIR, GERMAN, SOURCE_DIR, Marinad, require_german


@pytest.fixture
def german_marinad(bus, workdir):
    require_german()
    service = Marinad(bus, workdir, env=GERMAN).start()
    yield service
    service.stop()
    print("---- marinad's log ----\n" + service.log())


def error_of(call):
    with pytest.raises(GLib.Error) as caught:
        call()
    return caught.value


def test_errors_are_german(german_marinad):
    error = error_of(lambda: german_marinad.manager("FindMachine", "s", "nirgendwo"))
    assert "org.marinavm.Marina1.Error.NotFound" in error.message  # the name stays the API's
    assert "Keine Maschine heißt „nirgendwo“ oder hat diese ID" in error.message

    path = german_marinad.create("boot", memory_mib=128)
    error = error_of(lambda: german_marinad.machine(path, "Pause"))
    assert "Die Maschine „boot“ ist im Zustand off; Pause verlangt den Zustand running" \
        in error.message
    error = error_of(lambda: german_marinad.machine(path, "Screenshot"))
    assert "verlangt den Zustand running oder paused" in error.message


def test_errors_are_english_by_default(marinad):
    error = error_of(lambda: marinad.manager("FindMachine", "s", "nowhere"))
    assert "No machine is named 'nowhere' or has that id" in error.message


def translated_sources():
    """Files under the source tree that hold strings for gettext."""
    found = set()
    for folder in ("gui", "service", "devices"):
        for root, _, files in os.walk(os.path.join(SOURCE_DIR, folder)):
            for name in files:
                path = os.path.join(root, name)
                if not name.endswith((".c", ".ui", ".in")):
                    continue
                text = open(path, errors="replace").read()
                if re.search(r'\b(N?C?_|g_dpgettext2)\s*\(\s*"', text) \
                        or 'translatable="yes"' in text or path.endswith((".policy.in",
                                                                          ".desktop.in")):
                    found.add(os.path.relpath(path, SOURCE_DIR))
    return found


def test_potfiles_lists_every_file_with_translations():
    with open(os.path.join(SOURCE_DIR, "po", "POTFILES")) as f:
        listed = {line.strip() for line in f if line.strip() and not line.startswith("#")}
    sources = translated_sources()
    assert sources - listed == set(), "missing from po/POTFILES"
    assert listed - sources == set(), "in po/POTFILES without translatable strings"


def test_german_translation_is_complete(tmp_path):
    # marina-pot rewrites po/marina.pot (not in git) from today's sources.
    subprocess.run(["ninja", "-C", BUILD_DIR, "marina-pot"], check=True, capture_output=True)
    merged = tmp_path / "de.po"
    subprocess.run(["msgmerge", "--quiet", "--no-fuzzy-matching", "-o", str(merged),
                    os.path.join(SOURCE_DIR, "po", "de.po"),
                    os.path.join(SOURCE_DIR, "po", "marina.pot")], check=True)
    statistics = subprocess.run(["msgfmt", "--check", "--statistics", "-o", os.devnull,
                                 str(merged)], capture_output=True, text=True, check=True).stderr
    assert re.fullmatch(r"\d+ translated messages?\.\n", statistics), \
        f"po/de.po is behind the sources ({statistics.strip()}): run ninja marina-update-po"
