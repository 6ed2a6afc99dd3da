# SPDX-License-Identifier: LGPL-2.1-or-later
"""Host resources: no memory overcommit; CPU weight, cap and reserve."""

import os

import pytest
from gi.repository import GLib

from marina_harness import (MACHINE_IFACE, MANAGER_IFACE, MANAGER_PATH, Marinad, cgroup_dirs,
                            dbus_error_name, remove_cgroups)


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
    remove_cgroups(service.cgroup_name)


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


def read_cgroup_file(directory, name):
    with open(os.path.join(directory, name)) as f:
        return f.read().strip()


def cpu_settings(pid):
    """(weight as Virtual Server counts it, cap in percent of one CPU) from the kernel's files."""
    directory, version = cgroup_dirs(pid)
    assert directory and "marina-test-" in directory, f"QEMU {pid} is in no Marina cgroup"
    if version == 2:
        weight = int(read_cgroup_file(directory, "cpu.weight"))
        quota, period = read_cgroup_file(directory, "cpu.max").split()
        cap = 100 if quota == "max" else int(quota) * 100 // int(period)
        return weight, cap
    weight = int(read_cgroup_file(directory, "cpu.shares")) * 100 // 1024
    quota = int(read_cgroup_file(directory, "cpu.cfs_quota_us"))
    period = int(read_cgroup_file(directory, "cpu.cfs_period_us"))
    return weight, 100 if quota < 0 else quota * 100 // period


def test_cpu_weight_and_cap_applied_and_changed_while_running(marinad, disk):
    path = marinad.create("weighted", memory_mib=128, boot_disk=disk(), cpu_weight=300,
                          cpu_maximum=50)
    assert marinad.wait_job(marinad.machine(path, "Start"))[0] == "completed"
    pid = marinad.prop(path, MACHINE_IFACE, "Pid")
    assert cpu_settings(pid) == (300, 50)
    marinad.machine(path, "SetCpuAllocation", "uuu", 1000, 25, 10)
    assert cpu_settings(pid) == (1000, 25)
    assert marinad.prop(path, MACHINE_IFACE, "RelativeWeight") == 1000
    assert marinad.prop(path, MACHINE_IFACE, "MaximumCapacity") == 25
    assert marinad.prop(path, MACHINE_IFACE, "ReservedCapacity") == 10
    assert 'weight="1000"' in marinad.machine(path, "GetConfig")


def test_bad_cpu_allocation_refused(marinad):
    path = marinad.create("cpu", memory_mib=64)
    for weight, maximum, reserve in [(0, 100, 0), (10001, 100, 0), (100, 0, 0), (100, 101, 0),
                                     (100, 50, 60)]:
        with pytest.raises(GLib.Error) as info:
            marinad.machine(path, "SetCpuAllocation", "uuu", weight, maximum, reserve)
        assert dbus_error_name(info.value) == "org.marinavm.Marina1.Error.InvalidArgument"
    assert marinad.prop(path, MACHINE_IFACE, "RelativeWeight") == 100


def test_cpu_reserves_never_add_up_past_the_host(marinad, disk):
    cpus = marinad.prop(MANAGER_PATH, MANAGER_IFACE, "HostCpus")
    big = marinad.create("big", memory_mib=128, boot_disk=disk(), vcpus=cpus, cpu_reserve=90)
    small = marinad.create("small", memory_mib=128, boot_disk=disk(), cpu_reserve=30)
    assert marinad.wait_job(marinad.machine(big, "Start"))[0] == "completed"
    with pytest.raises(GLib.Error) as info:
        marinad.machine(small, "Start")
    assert dbus_error_name(info.value) == "org.marinavm.Marina1.Error.InsufficientResources"
    assert "reserve" in info.value.message
    # Raising a running machine's reserve is checked the same way.
    marinad.machine(small, "SetCpuAllocation", "uuu", 100, 100, 20)
    assert marinad.wait_job(marinad.machine(small, "Start"))[0] == "completed"
    with pytest.raises(GLib.Error) as info:
        marinad.machine(small, "SetCpuAllocation", "uuu", 100, 100, 21)
    assert dbus_error_name(info.value) == "org.marinavm.Marina1.Error.InsufficientResources"
    assert marinad.prop(small, MACHINE_IFACE, "ReservedCapacity") == 20
