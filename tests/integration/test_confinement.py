# SPDX-License-Identifier: LGPL-2.1-or-later
"""Each machine's QEMU runs as a uid of its own inside QEMU's seccomp sandbox,
and reaches its own disks only while it runs: never another machine's."""

import os
import subprocess

from marina_harness import MACHINE_IFACE


def qemu_pid(marinad, path):
    machine_id = marinad.prop(path, MACHINE_IFACE, "Id")
    with open(os.path.join(marinad.state_dir, "run", "machines", machine_id, "qemu.pid")) as f:
        return int(f.read())


def process_uid(pid):
    return os.stat(f"/proc/{pid}").st_uid


def can_read_as(uid, path):
    """Opens @path with exactly the uid and groups a confined QEMU has."""
    result = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                             "dd", f"if={path}", "of=/dev/null", "bs=512", "count=1"],
                            capture_output=True, text=True)
    return result.returncode == 0


def start(marinad, name, disk_path):
    os.chmod(disk_path, 0o600)  # only its owner (root) and its machine's QEMU
    path = marinad.create(name, memory_mib=128, boot_disk=disk_path)
    assert marinad.wait_job(marinad.machine(path, "Start"))[0] == "completed"
    return path


def test_qemu_runs_confined_and_reaches_only_its_own_disk(marinad, disk):
    disk_a, disk_b = disk(), disk()
    a = start(marinad, "alpha", disk_a)
    b = start(marinad, "beta", disk_b)
    pid_a, pid_b = qemu_pid(marinad, a), qemu_pid(marinad, b)
    uid_a, uid_b = process_uid(pid_a), process_uid(pid_b)

    assert uid_a != 0 and uid_b != 0 and uid_a != uid_b
    with open(f"/proc/{pid_a}/cmdline") as f:
        argv = f.read().split("\0")
    assert "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny" in argv
    with open(f"/proc/{pid_a}/status") as f:
        assert "Seccomp:\t2" in f.read()

    assert can_read_as(uid_a, disk_a)
    assert not can_read_as(uid_a, disk_b)
    assert not can_read_as(uid_b, disk_a)
    # A guest still runs on it: the machine reaches running and answers QMP.
    marinad.machine(a, "Pause")
    marinad.wait_state(a, "paused")
    marinad.machine(a, "Resume")
    marinad.wait_state(a, "running")

    marinad.machine(a, "TurnOff")
    marinad.wait_state(a, "off")
    assert not can_read_as(uid_a, disk_a)
    acl = subprocess.run(["getfacl", "-n", "--omit-header", disk_a], capture_output=True,
                         text=True).stdout
    assert f"user:{uid_a}:" not in acl
    assert can_read_as(uid_b, disk_b)


def test_uid_freed_by_a_stopped_machine_is_reused(marinad, disk):
    first = start(marinad, "first", disk())
    uid = process_uid(qemu_pid(marinad, first))
    marinad.machine(first, "TurnOff")
    marinad.wait_state(first, "off")
    second = start(marinad, "second", disk())
    assert process_uid(qemu_pid(marinad, second)) == uid
