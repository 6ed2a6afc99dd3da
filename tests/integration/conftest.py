# SPDX-License-Identifier: LGPL-2.1-or-later
import os
import signal

import pytest

from marina_harness import (Marinad, PrivateBus, build_guest, copy_image, make_temp_dir,
                            pid_alive, remove_cgroups, remove_dir)


@pytest.fixture(scope="session")
def guest_image():
    return build_guest()


@pytest.fixture
def workdir():
    path = make_temp_dir()
    yield path
    remove_dir(path)


@pytest.fixture
def bus(workdir):
    bus = PrivateBus(workdir)
    yield bus
    bus.stop()


def _kill_machines(marinad):
    """QEMU outlives marinad by design: a test must stop its own by pid."""
    run_dir = os.path.join(marinad.state_dir, "run", "machines")
    for root, _, files in os.walk(run_dir):
        if "qemu.pid" in files:
            with open(os.path.join(root, "qemu.pid")) as f:
                pid = int(f.read().strip() or 0)
            if pid > 0 and pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def marinad(bus, workdir):
    service = Marinad(bus, workdir).start()
    yield service
    service.stop()
    _kill_machines(service)
    remove_cgroups(service.cgroup_name)
    # Shown by pytest only when the test failed.
    print("---- marinad's log ----\n" + service.log())


@pytest.fixture
def disk(guest_image, workdir):
    """A fresh copy of the test guest's disk; call it again for more."""
    counter = iter(range(100))
    return lambda: copy_image(guest_image, workdir, f"guest{next(counter)}.img")


@pytest.fixture
def running_machine(marinad, disk):
    path = marinad.create("guest", memory_mib=128, boot_disk=disk())
    job = marinad.machine(path, "Start")
    assert marinad.wait_job(job)[0] == "completed"
    return path
