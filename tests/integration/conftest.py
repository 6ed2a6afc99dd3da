# SPDX-License-Identifier: LGPL-2.1-or-later

import pytest

from marina_harness import (Marinad, PrivateBus, build_guest, copy_image, kill_machines,
                            make_temp_dir, remove_cgroups, remove_dir)


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


@pytest.fixture
def marinad(bus, workdir):
    service = Marinad(bus, workdir).start()
    yield service
    service.stop()
    kill_machines(service)
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
