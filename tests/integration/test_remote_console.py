# SPDX-License-Identifier: LGPL-2.1-or-later
"""A direct TCP console (Virtual Server's VMRC over SSL): QEMU's VNC with TLS
(x509) and a password, configured per machine; local consoles stay fd-only."""

import socket
import struct

import pytest
from gi.repository import GLib

from marina_harness import (ERROR_PREFIX, MACHINE_IFACE, Marinad, dbus_error_name,
                            free_tcp_port, kill_machines, make_tls_dir)

VENCRYPT = 19


def security_types(port):
    """What the server offers before any authentication (RFB 3.8)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        banner = s.recv(12)
        s.sendall(banner)
        count = s.recv(1)[0]
        return banner, list(s.recv(count))


def console_xml(marinad, path, port, listen="127.0.0.1"):
    config = marinad.machine(path, "GetConfig")
    return config.replace("</machine>",
                          f'  <remote-console port="{port}" listen="{listen}"/>\n</machine>')


@pytest.fixture
def tls_marinad(bus, workdir):
    tls = make_tls_dir(workdir)
    service = Marinad(bus, workdir, extra_conf=f"[console]\ntls-dir={tls}\n").start()
    yield service
    service.stop()
    kill_machines(service)
    print("---- marinad's log ----\n" + service.log())


def test_tcp_console_speaks_tls_only(tls_marinad, disk):
    port = free_tcp_port()
    path = tls_marinad.create("vmrc", memory_mib=128, boot_disk=disk())
    tls_marinad.machine(path, "SetConfig", "s", console_xml(tls_marinad, path, port))
    tls_marinad.machine(path, "SetConsolePassword", "s", "s3cret")
    assert tls_marinad.wait_job(tls_marinad.machine(path, "Start"))[0] == "completed"

    banner, types = security_types(port)
    assert banner.startswith(b"RFB 003.00")
    assert types == [VENCRYPT]  # no plain VNC, no "none"
    # The local console still works without any password.
    (fd_index,), fds = tls_marinad.call(path, MACHINE_IFACE, "OpenConsole", fd_list=True)
    local = socket.socket(fileno=fds.get(fd_index))
    banner = local.recv(12)
    local.sendall(banner)
    count = local.recv(1)[0]
    assert list(local.recv(count)) == [1]  # None: marinad already authorized the caller
    local.close()
    # The port is hardware: it changes only while the machine is off.
    with pytest.raises(GLib.Error) as info:
        tls_marinad.machine(path, "SetConfig", "s",
                            tls_marinad.machine(path, "GetConfig").replace(
                                f'port="{port}"', f'port="{port + 1}"'))
    assert dbus_error_name(info.value) == ERROR_PREFIX + "InvalidState"
    assert "remote-console" in info.value.message


def test_tcp_console_needs_its_certificates(bus, workdir, disk):
    service = Marinad(bus, workdir, extra_conf=f"[console]\ntls-dir={workdir}/no-tls\n").start()
    try:
        port = free_tcp_port()
        path = service.create("nocerts", memory_mib=128, boot_disk=disk())
        service.machine(path, "SetConfig", "s", console_xml(service, path, port))
        with pytest.raises(GLib.Error) as info:
            service.machine(path, "Start")
        assert dbus_error_name(info.value) == ERROR_PREFIX + "Failed"
        assert "ca-cert.pem is missing" in info.value.message and "tls-dir" in info.value.message
        assert service.state(path) == "off"
    finally:
        service.stop()


@pytest.mark.parametrize("password, fragment", [
    ("", "1 to 8 characters"), ("toolongpassword", "1 to 8 characters"),
    ("a b", "printable ASCII"), ("tab\there", "printable ASCII"),
])
def test_bad_console_passwords_refused(marinad, password, fragment):
    path = marinad.create("pw", memory_mib=64)
    with pytest.raises(GLib.Error) as info:
        marinad.machine(path, "SetConsolePassword", "s", password)
    assert dbus_error_name(info.value) == ERROR_PREFIX + "InvalidArgument"
    assert fragment in info.value.message


@pytest.mark.parametrize("attributes, fragment", [
    ('port="80"', "5900 to 65535"),
    ('port="70000"', "5900 to 65535"),
    ('port="5901" listen="example.org"', "not an IP address"),
    ('port="5901" listen="1.2.3.4,x=y"', "not an IP address"),
])
def test_bad_remote_console_settings_refused(marinad, attributes, fragment):
    path = marinad.create("rc", memory_mib=64)
    before = marinad.machine(path, "GetConfig")
    bad = before.replace("</machine>", f"  <remote-console {attributes}/>\n</machine>")
    with pytest.raises(GLib.Error) as info:
        marinad.machine(path, "SetConfig", "s", bad)
    assert dbus_error_name(info.value) == ERROR_PREFIX + "InvalidArgument"
    assert fragment in info.value.message
    assert marinad.machine(path, "GetConfig") == before
