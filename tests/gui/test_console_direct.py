# SPDX-License-Identifier: LGPL-2.1-or-later
"""marina-console straight to a machine's TCP console: TLS with x509 and a
password, the way Virtual Server's VMRC client reached VMRC over SSL."""

import os
import pwd
import shutil
import subprocess

import pytest

from console_harness import Console
from marina_harness import (Marinad, free_tcp_port, kill_machines, make_tls_dir,
                            wait_for_guest_shell)


@pytest.fixture
def trusted_authority(workdir):
    """gvnc trusts the authority only in fixed places: the user's
    ~/.pki/CA/cacert.pem (home from the password file), so it goes there for
    the test and is removed again."""
    tls = make_tls_dir(workdir)
    home = pwd.getpwuid(os.getuid()).pw_dir
    target = os.path.join(home, ".pki", "CA", "cacert.pem")
    if os.path.exists(target):
        pytest.skip(f"{target} exists: the test will not replace a real authority")
    created = [d for d in (os.path.join(home, ".pki"), os.path.dirname(target))
               if not os.path.exists(d)]
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy(os.path.join(tls, "ca-cert.pem"), target)
    yield tls
    os.unlink(target)
    for d in reversed(created):
        os.rmdir(d)


@pytest.fixture
def vmrc(bus, workdir, disk, trusted_authority):
    service = Marinad(bus, workdir, extra_conf=f"[console]\ntls-dir={trusted_authority}\n").start()
    port = free_tcp_port()
    path = service.create("vmrc", memory_mib=128, boot_disk=disk())
    config = service.machine(path, "GetConfig").replace(
        "</machine>", f'  <remote-console port="{port}" listen="127.0.0.1"/>\n</machine>')
    service.machine(path, "SetConfig", "s", config)
    service.machine(path, "SetConsolePassword", "s", "s3cret")
    assert service.wait_job(service.machine(path, "Start"))[0] == "completed"
    wait_for_guest_shell(service, path)
    yield service, port
    service.stop()
    kill_machines(service)


def password_file(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, 0o600)
    return path


def test_direct_console_with_tls_and_password(vmrc, xvfb, workdir):
    service, port = vmrc
    viewers = []
    try:
        right = password_file(workdir, "right", "s3cret")
        viewers.append(Console(xvfb, service.bus, None, workdir,
                               ("--direct", f"127.0.0.1:{port}", "--password-file", right)))
        viewers[-1].wait_log("console connected")

        wrong = password_file(workdir, "wrong", "guess")
        viewers.append(Console(xvfb, service.bus, None, workdir,
                               ("--direct", f"127.0.0.1:{port}", "--password-file", wrong)))
        viewers[-1].wait_log("The console refused the login")
        assert "console connected" not in viewers[-1].log()
    finally:
        for viewer in viewers:
            viewer.stop()
            print(f"---- marina-console's log ----\n{viewer.log()}")


@pytest.fixture
def vmrc_sasl(bus, workdir, disk, trusted_authority):
    """QEMU's VNC with TLS and SASL (VeNCrypt X509SASL): Cyrus SASL reads
    qemu.conf from SASL_CONF_PATH, its users from a sasldb the test writes.
    The confined QEMU reads both, so they are world-readable here."""
    sasl_dir = os.path.join(workdir, "sasl")
    os.makedirs(sasl_dir)
    database = os.path.join(sasl_dir, "passwd.db")
    with open(os.path.join(sasl_dir, "qemu.conf"), "w") as conf:
        conf.write(f"mech_list: digest-md5\nsasldb_path: {database}\n")
    subprocess.run(["saslpasswd2", "-p", "-a", "qemu", "-f", database, "-c", "operator"],
                   input="n1ght-shift\n", text=True, check=True)
    for path in (workdir, sasl_dir, database):
        os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
    service = Marinad(bus, workdir, extra_conf=f"[console]\ntls-dir={trusted_authority}\n",
                      env={"SASL_CONF_PATH": sasl_dir}).start()
    port = free_tcp_port()
    path = service.create("vmrc-sasl", memory_mib=128, boot_disk=disk())
    config = service.machine(path, "GetConfig").replace(
        "</machine>", f'  <remote-console port="{port}" listen="127.0.0.1" auth="sasl"/>\n'
                      '</machine>')
    service.machine(path, "SetConfig", "s", config)
    assert service.wait_job(service.machine(path, "Start"))[0] == "completed"
    wait_for_guest_shell(service, path)
    yield service, port
    service.stop()
    kill_machines(service)


def test_direct_console_with_tls_and_sasl(vmrc_sasl, xvfb, workdir):
    service, port = vmrc_sasl
    viewers = []
    try:
        right = password_file(workdir, "sasl-right", "n1ght-shift")
        viewers.append(Console(xvfb, service.bus, None, workdir,
                               ("--direct", f"127.0.0.1:{port}", "--username", "operator",
                                "--password-file", right)))
        viewers[-1].wait_log("console connected")

        wrong = password_file(workdir, "sasl-wrong", "day-shift")
        viewers.append(Console(xvfb, service.bus, None, workdir,
                               ("--direct", f"127.0.0.1:{port}", "--username", "operator",
                                "--password-file", wrong)))
        viewers[-1].wait_log("The console refused the login")
        assert "console connected" not in viewers[-1].log()
    finally:
        for viewer in viewers:
            viewer.stop()
            print(f"---- marina-console's log ----\n{viewer.log()}")
