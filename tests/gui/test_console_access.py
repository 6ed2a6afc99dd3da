# SPDX-License-Identifier: LGPL-2.1-or-later
"""Only a caller with the use right gets a machine's console; a refusal is
shown in the API's own words."""

import pytest

from console_harness import Console
from marina_harness import Marinad, SystemLikeBus, kill_machines


@pytest.fixture
def secured(workdir):
    bus = SystemLikeBus(workdir)
    service = Marinad(bus, workdir).start()
    yield service
    service.stop()
    kill_machines(service)
    bus.stop()


def test_console_needs_the_use_right(secured, xvfb, workdir, disk):
    path = secured.create("guarded", memory_mib=128, boot_disk=disk())
    assert secured.wait_job(secured.machine(path, "Start"))[0] == "completed"
    viewers = []
    try:
        viewers.append(Console(xvfb, secured.bus, "guarded", workdir, user="nobody"))
        viewers[-1].wait_log("nobody may not call Machine.OpenConsole on machine 'guarded'")
        assert "GDBus.Error" not in viewers[-1].log()
        assert "console connected" not in viewers[-1].log()

        secured.machine(path, "SetAccess", "a(sss)", [("user", "nobody", "use")])
        viewers.append(Console(xvfb, secured.bus, "guarded", workdir, user="nobody"))
        viewers[-1].wait_log("console connected")
    finally:
        for viewer in viewers:
            viewer.stop()
            print(f"---- marina-console's log ----\n{viewer.log()}")
