# SPDX-License-Identifier: LGPL-2.1-or-later
"""marinad answers in its own locale's language (po/de.po): a session
instance speaks its user's language, a system one the host's."""

import pytest
from gi.repository import GLib

from marina_harness import GERMAN, Marinad, require_german


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
