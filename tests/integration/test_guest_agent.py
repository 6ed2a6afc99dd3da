# SPDX-License-Identifier: LGPL-2.1-or-later
"""Guest additions through qemu-guest-agent, against the real test guest."""

import re
import time

from gi.repository import GLib

from marina_harness import (MACHINE_IFACE, SignalRecorder, open_serial, read_file,
                            recording_script, serial_roundtrip, wait_for_guest_shell, wait_until)


def prop(marinad, path, name):
    return marinad.prop(path, MACHINE_IFACE, name)


def wait_heartbeat(marinad, path, value=True, timeout=90):
    wait_until(lambda: prop(marinad, path, "Heartbeat") is value, timeout,
               f"Heartbeat to be {value}")


def event_messages(marinad, path, **filters):
    return [e[4] for e in marinad.events(object=path, **filters)]


def test_agent_answers_with_os_name_and_no_addresses(marinad, running_machine):
    path = running_machine
    wait_heartbeat(marinad, path)
    assert prop(marinad, path, "AgentConnected") is True
    wait_until(lambda: prop(marinad, path, "GuestOsName"), 20, "GuestOsName")
    assert prop(marinad, path, "GuestOsName").startswith("Marina test guest")
    # No NIC: only lo, whose addresses are left out.
    assert prop(marinad, path, "GuestAddresses") == []
    assert any("heartbeat started" in m for m in event_messages(marinad, path))


def test_shutdown_goes_through_agent(marinad, running_machine):
    path = running_machine
    wait_for_guest_shell(marinad, path)
    wait_heartbeat(marinad, path)
    # Without acpid the power button does nothing: only the agent can do it.
    sock = open_serial(marinad, path)
    assert serial_roundtrip(sock, "killall acpid; echo acpid-$((1+1))-gone", "acpid-2-gone")
    job = marinad.machine(path, "Shutdown", "a{sv}", {"timeout": GLib.Variant("u", 60)})
    status, _, message = marinad.wait_job(job, 90)
    assert status == "completed", message
    assert marinad.state(path) == "off"
    assert prop(marinad, path, "StateReason") == "shutdown"
    assert any("through the guest agent" in m for m in event_messages(marinad, path))
    # Everything the agent reported goes with the machine.
    assert prop(marinad, path, "Heartbeat") is False
    assert prop(marinad, path, "AgentConnected") is False
    assert prop(marinad, path, "GuestOsName") == ""


def test_killed_agent_loses_heartbeat(marinad, running_machine, workdir):
    path = running_machine
    script, record = recording_script(workdir, "on-heartbeat-lost")
    marinad.machine(path, "AttachScript", "ss", "heartbeat-lost", script)
    wait_for_guest_shell(marinad, path)
    wait_heartbeat(marinad, path)
    lost = SignalRecorder(marinad.connection, MACHINE_IFACE, "HeartbeatLost", path)
    sock = open_serial(marinad, path)
    assert serial_roundtrip(sock, "killall qemu-ga; echo ga-$((2+2))-gone", "ga-4-gone")
    lost.wait_for(lambda i: True, 45, "HeartbeatLost")
    assert prop(marinad, path, "Heartbeat") is False
    assert prop(marinad, path, "AgentConnected") is True
    warnings = event_messages(marinad, path, min_severity="warning")
    assert any("HeartbeatLost" in m for m in warnings), warnings
    wait_until(lambda: "heartbeat-lost guest" in read_file(record), 10, "the heartbeat-lost script")
    # It comes back when the agent runs again.
    assert serial_roundtrip(sock, "qemu-ga -d; echo ga-$((3+3))-back", "ga-6-back")
    wait_heartbeat(marinad, path, True, 45)
    assert any("heartbeat is back" in m for m in event_messages(marinad, path))


def test_no_heartbeat_lost_while_paused(marinad, running_machine):
    path = running_machine
    wait_heartbeat(marinad, path)
    lost = SignalRecorder(marinad.connection, MACHINE_IFACE, "HeartbeatLost", path)
    marinad.machine(path, "Pause")
    time.sleep(10)  # several heartbeat periods
    wait_until(lambda: True, 1, "signals to arrive")
    assert lost.items == []
    assert prop(marinad, path, "Heartbeat") is True
    marinad.machine(path, "Resume")
    time.sleep(7)
    wait_until(lambda: True, 1, "signals to arrive")
    assert lost.items == []
    assert prop(marinad, path, "Heartbeat") is True


def guest_clock(sock):
    sock.settimeout(0.5)
    sock.sendall(b"echo CLOCK-$(date +%s)-END\n")
    received = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            received += sock.recv(4096)
        except OSError:
            continue
        found = re.search(rb"CLOCK-(\d+)-END", received)
        if found:
            return int(found.group(1))
    raise AssertionError(f"no clock from the guest: {received[-300:]!r}")


def test_restore_sets_guest_clock(marinad, running_machine):
    path = running_machine
    wait_for_guest_shell(marinad, path)
    wait_heartbeat(marinad, path)
    assert marinad.wait_job(marinad.machine(path, "Save"))[0] == "completed"
    time.sleep(15)  # the saved guest's clock stands still meanwhile
    assert marinad.wait_job(marinad.machine(path, "Start"))[0] == "completed"
    wait_until(lambda: any("set the guest's clock" in m for m in event_messages(marinad, path)),
               60, "the guest's clock to be set")
    guest = guest_clock(open_serial(marinad, path))
    assert abs(guest - time.time()) < 5, f"guest clock {guest}, host {time.time()}"
