# SPDX-License-Identifier: LGPL-2.1-or-later
import importlib.util
import os

import pytest

from console_harness import CONSOLE, MANAGER, Console, Manager, NotificationServer, Sshd, Xvfb

# The integration suite's fixtures (private bus, marinad, test guest).
_spec = importlib.util.spec_from_file_location(
    "integration_conftest",
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration",
                 "conftest.py"))
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)
guest_image = _integration.guest_image
workdir = _integration.workdir
bus = _integration.bus
marinad = _integration.marinad
disk = _integration.disk
running_machine = _integration.running_machine


@pytest.fixture(scope="session")
def xvfb():
    if not os.path.exists(CONSOLE):
        pytest.skip(f"{CONSOLE} is not built (GTK 4, libgvnc or libadwaita missing)")
    server = Xvfb()
    yield server
    server.stop()


@pytest.fixture
def console(xvfb, bus, workdir):
    """console(machine, *args, env={}) starts marina-console; all are stopped after the test."""
    started = []

    def start(machine, *args, env=None):
        c = Console(xvfb, bus, machine, workdir, args, env)
        started.append(c)
        return c
    yield start
    for c in started:
        c.stop()
        print(f"---- marina-console's log ----\n{c.log()}")


@pytest.fixture
def sshd(workdir):
    if not os.path.exists(Sshd.SSHD):
        pytest.skip(f"{Sshd.SSHD} is missing (Debian package openssh-server)")
    server = Sshd(workdir)
    yield server
    server.stop()
    print(f"---- sshd's log ----\n{open(server.log_path).read()}")


@pytest.fixture
def manager(xvfb, bus, workdir):
    """manager(*args, env={}) starts marina, the manager; all are stopped after the test."""
    if not os.path.exists(MANAGER):
        pytest.skip(f"{MANAGER} is not built")
    started = []

    def start(*args, env=None):
        m = Manager(xvfb, bus, workdir, args, env)
        started.append(m)
        return m
    yield start
    for m in started:
        m.stop()
        print(f"---- marina's log ----\n{m.log()}")


@pytest.fixture
def notifications(bus):
    server = NotificationServer(bus)
    yield server
    server.stop()
