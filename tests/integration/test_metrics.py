# SPDX-License-Identifier: LGPL-2.1-or-later
"""Metrics, Virtual Server's Accountant: live properties while watched, history, host totals."""

import os
import socket
import time

import pytest
from gi.repository import GLib

from marina_harness import (MACHINE_IFACE, MANAGER_IFACE, MANAGER_PATH, Marinad, SignalRecorder,
                            dbus_error_name, open_serial, remove_cgroups, serial_roundtrip,
                            wait_for_guest_shell, wait_until)

PROPERTIES_IFACE = "org.freedesktop.DBus.Properties"


def changed_properties(recorder, name):
    """Values of one property in the PropertiesChanged signals recorded so far."""
    return [params[1][name] for _, params in recorder.items
            if params[0] == MACHINE_IFACE and name in params[1]]


def pump(seconds):
    """Lets signals arrive for a while."""
    deadline = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() > deadline, seconds + 5, "time to pass")


def cpu_usage(marinad, path):
    return marinad.prop(path, MACHINE_IFACE, "CpuUsage")


def live_cpu_usage(marinad, path):
    """CpuUsage once live figures have arrived (Uptime is 0 until the first one)."""
    if marinad.prop(path, MACHINE_IFACE, "Uptime") == 0:
        return None
    return cpu_usage(marinad, path)


def test_busy_guest_drives_cpu_usage_while_watched(marinad, running_machine):
    path = running_machine
    wait_for_guest_shell(marinad, path)
    changes = SignalRecorder(marinad.connection, PROPERTIES_IFACE, "PropertiesChanged", path)
    marinad.manager("WatchMetrics")
    # Booting keeps TCG busy for a while; start from a guest that idles at its prompt.
    wait_until(lambda: (live_cpu_usage(marinad, path) or 100) < 30, 60,
               f"an idle guest (CpuUsage is {cpu_usage(marinad, path):.1f})")
    sock = open_serial(marinad, path)
    assert serial_roundtrip(sock, "while :; do :; done & echo busy-$((1+1))", "busy-2")
    wait_until(lambda: cpu_usage(marinad, path) > 50, 30,
               f"CpuUsage above 50% (it is {cpu_usage(marinad, path):.1f})")
    assert any(value > 50 for value in changed_properties(changes, "CpuUsage"))
    wait_until(lambda: marinad.prop(MANAGER_PATH, MANAGER_IFACE, "HostCpuUsage") > 0, 5,
               "HostCpuUsage")
    totals = [marinad.prop(MANAGER_PATH, MANAGER_IFACE, name)
              for name in ("MachinesCpuUsage", "HostCpuUsage", "MachinesMemoryMiB")]
    assert totals[0] > 50, totals
    assert 0 < totals[1] <= 100, totals
    assert totals[2] > 64, totals  # QEMU with a 128 MiB guest holds far more than 64 MiB
    assert serial_roundtrip(sock, "kill $!; echo idle-$((1+1))", "idle-2")
    wait_until(lambda: cpu_usage(marinad, path) < 30, 30,
               f"CpuUsage below 30% (it is {cpu_usage(marinad, path):.1f})")
    assert marinad.prop(path, MACHINE_IFACE, "Uptime") > 0
    marinad.manager("UnwatchMetrics")
    changes.close()


def test_disk_bytes_follow_the_guest(marinad, running_machine):
    path = running_machine
    wait_for_guest_shell(marinad, path)
    marinad.manager("WatchMetrics")
    # The BIOS and syslinux read the kernel and initramfs (about 18 MB) from the disk.
    booted = wait_until(lambda: marinad.prop(path, MACHINE_IFACE, "DiskReadBytes"), 10,
                        "DiskReadBytes above 0")
    assert booted > 8 * 1024 * 1024, booted
    sock = open_serial(marinad, path)
    assert serial_roundtrip(sock, "dd if=/dev/vda of=/dev/null bs=1M count=8 skip=48 2>/dev/null;"
                                  " echo read-$((1+1))", "read-2")
    wait_until(lambda: marinad.prop(path, MACHINE_IFACE, "DiskReadBytes") >= booted + 8 * 1024 * 1024,
               10, "DiskReadBytes to grow by the 8 MiB dd read")
    assert serial_roundtrip(sock, "dd if=/dev/zero of=/dev/vda bs=1M count=2 seek=60 2>/dev/null;"
                                  " sync; echo wrote-$((1+1))", "wrote-2")
    wait_until(lambda: marinad.prop(path, MACHINE_IFACE, "DiskWrittenBytes") >= 2 * 1024 * 1024,
               10, "DiskWrittenBytes to reach the 2 MiB dd wrote")
    # No network adapters yet: the counters exist and stay at 0.
    assert marinad.prop(path, MACHINE_IFACE, "NetworkReceivedBytes") == 0
    assert marinad.prop(path, MACHINE_IFACE, "NetworkSentBytes") == 0
    marinad.machine(path, "TurnOff")
    assert marinad.prop(path, MACHINE_IFACE, "DiskReadBytes") == 0
    assert marinad.prop(path, MACHINE_IFACE, "Uptime") == 0


def test_no_property_changes_without_a_watcher(marinad, running_machine):
    path = running_machine
    changes = SignalRecorder(marinad.connection, PROPERTIES_IFACE, "PropertiesChanged", path)
    pump(6)  # longer than the history interval: sampling for history publishes nothing
    assert changed_properties(changes, "CpuUsage") == []
    assert changed_properties(changes, "Uptime") == []
    marinad.manager("WatchMetrics")
    wait_until(lambda: len(changed_properties(changes, "Uptime")) >= 2, 10, "live Uptime changes")
    marinad.manager("UnwatchMetrics")
    pump(1.5)  # a change queued just before the unwatch may still arrive
    changes.items.clear()
    pump(3)
    assert changed_properties(changes, "Uptime") == []
    changes.close()


def test_unwatch_without_watch_is_refused(marinad):
    with pytest.raises(GLib.Error) as info:
        marinad.manager("UnwatchMetrics")
    assert dbus_error_name(info.value) == "org.marinavm.Marina1.Error.InvalidState"
    # Watches count: two watches need two unwatches.
    marinad.manager("WatchMetrics")
    marinad.manager("WatchMetrics")
    marinad.manager("UnwatchMetrics")
    marinad.manager("UnwatchMetrics")
    with pytest.raises(GLib.Error):
        marinad.manager("UnwatchMetrics")


def test_watcher_that_leaves_the_bus_is_dropped(marinad, running_machine, bus):
    path = running_machine
    changes = SignalRecorder(marinad.connection, PROPERTIES_IFACE, "PropertiesChanged", path)
    other = bus.connect()
    other.call_sync("org.marinavm.Marina1", MANAGER_PATH, MANAGER_IFACE, "WatchMetrics", None,
                    None, 0, 10000, None)
    wait_until(lambda: len(changed_properties(changes, "Uptime")) >= 2, 10,
               "live Uptime changes for the other client")
    other.close_sync(None)  # leaves without UnwatchMetrics
    pump(1.5)
    changes.items.clear()
    pump(3)
    assert changed_properties(changes, "Uptime") == []
    changes.close()


def test_history_without_a_watcher(marinad, running_machine):
    path = running_machine
    # Running machines are sampled every 5 s for their history, watched or not.
    samples = wait_until(lambda: marinad.machine(path, "GetHistory", "a{sv}", {}), 15,
                         "a history sample")
    when, cpu, disk_read, disk_written, net_rx, net_tx = samples[-1]
    assert abs(when / 1e6 - time.time()) < 30
    assert cpu >= 0 and disk_read > 0 and net_rx == 0 and net_tx == 0
    marinad.manager("WatchMetrics")
    wait_until(lambda: len(marinad.machine(path, "GetHistory", "a{sv}", {})) >= len(samples) + 3,
               10, "one sample a second while watched")
    marinad.manager("UnwatchMetrics")
    history = marinad.machine(path, "GetHistory", "a{sv}", {})
    times = [s[0] for s in history]
    assert times == sorted(times)
    recent = marinad.machine(path, "GetHistory", "a{sv}", {"seconds": GLib.Variant("u", 2)})
    assert 0 < len(recent) < len(history)
    with pytest.raises(GLib.Error) as info:
        marinad.machine(path, "GetHistory", "a{sv}", {"limit": GLib.Variant("u", 2)})
    assert dbus_error_name(info.value) == "org.marinavm.Marina1.Error.InvalidArgument"


@pytest.fixture
def exporting_marinad(bus, workdir):
    """A marinad that serves Prometheus text on a socket ([metrics] socket=)."""
    sock = os.path.join(workdir, "metrics.sock")
    service = Marinad(bus, workdir, extra_conf=f"[metrics]\nsocket={sock}\n").start()
    service.metrics_socket = sock
    yield service
    for path in service.manager("ListMachines"):
        if service.state(path) != "off":
            service.machine(path, "TurnOff")
    service.stop()
    remove_cgroups(service.cgroup_name)
    print("---- marinad's log ----\n" + service.log())


def http_get(socket_path, target):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(socket_path)
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    head, _, body = reply.decode().partition("\r\n\r\n")
    return head, body


def metric_value(body, name, machine_id):
    for line in body.splitlines():
        if line.startswith(name + "{") and f'id="{machine_id}"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} for {machine_id} in:\n{body}")


def test_prometheus_text_on_the_metrics_socket(exporting_marinad, disk):
    service = exporting_marinad
    path = service.create("exported", memory_mib=128, boot_disk=disk())
    machine_id = service.prop(path, MACHINE_IFACE, "Id")
    head, body = http_get(service.metrics_socket, "/metrics")
    assert head.startswith("HTTP/1.0 200") and "text/plain; version=0.0.4" in head, head
    assert "# TYPE marina_machine_cpu_seconds_total counter" in body
    assert f'marina_machine_state{{id="{machine_id}",name="exported",state="off"}} 1' in body
    assert metric_value(body, "marina_machine_memory_bytes", machine_id) == 128 * 1024 * 1024
    assert service.wait_job(service.machine(path, "Start"))[0] == "completed"
    # Without a watcher, samples come every 5 s.
    wait_until(lambda: metric_value(http_get(service.metrics_socket, "/metrics")[1],
                                    "marina_machine_disk_read_bytes_total", machine_id) > 0,
               15, "disk bytes in the exported text")
    _, body = http_get(service.metrics_socket, "/metrics")
    assert metric_value(body, "marina_machine_cpu_seconds_total", machine_id) > 0
    assert metric_value(body, "marina_machine_running", machine_id) == 1
    assert metric_value(body, "marina_machine_resident_memory_bytes", machine_id) > 64 * 1024 * 1024
    assert "marina_machine_heartbeat{" in body
    assert http_get(service.metrics_socket, "/other")[0].startswith("HTTP/1.0 404")
