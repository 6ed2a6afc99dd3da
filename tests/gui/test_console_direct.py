# SPDX-License-Identifier: LGPL-2.1-or-later
"""marina-console straight to a machine's TCP console: TLS with x509 and a
password, the way Virtual Server's VMRC client reached VMRC over SSL."""

import os
import pwd
import shutil

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
