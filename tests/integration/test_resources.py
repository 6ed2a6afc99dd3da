# SPDX-License-Identifier: LGPL-2.1-or-later
"""Host resources: no memory overcommit."""

import pytest
from gi.repository import GLib

from marina_harness import MANAGER_IFACE, MANAGER_PATH, Marinad, dbus_error_name


@pytest.fixture
def tight_marinad(bus, workdir):
    """A marinad whose host can give machines room for exactly one 128 MiB guest."""
    probe = Marinad(bus, workdir).start()
    host = probe.prop(MANAGER_PATH, MANAGER_IFACE, "HostMemoryMiB")
    probe.stop()
    reserve = host - (128 + 128) - 100  # one guest plus overhead, and 100 MiB spare
    service = Marinad(bus, workdir, extra_conf=f"[host]\nmemory-reserve-mib={reserve}\n").start()
    yield service
    service.stop()


def test_start_refused_when_memory_would_be_overcommitted(tight_marinad, disk):
    first = tight_marinad.create("first", memory_mib=128, boot_disk=disk())
    second = tight_marinad.create("second", memory_mib=128, boot_disk=disk())
    assert tight_marinad.wait_job(tight_marinad.machine(first, "Start"))[0] == "completed"
    with pytest.raises(GLib.Error) as info:
        tight_marinad.machine(second, "Start")
    assert dbus_error_name(info.value) == "org.marinavm.Marina1.Error.InsufficientResources"
    message = info.value.message
    assert "needs 256 MiB" in message and "only 100 MiB are free" in message, message
    assert tight_marinad.state(second) == "off"
    # Memory comes back when the first machine stops.
    tight_marinad.machine(first, "TurnOff")
    assert tight_marinad.wait_job(tight_marinad.machine(second, "Start"))[0] == "completed"
    tight_marinad.machine(second, "TurnOff")
