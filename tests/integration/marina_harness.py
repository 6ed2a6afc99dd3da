# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the real marinad on a private dbus-daemon and talks to it with Gio.

Integration tests use these pieces through the fixtures in conftest.py."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from gi.repository import Gio, GLib

BUS_NAME = "org.marinavm.Marina1"
ROOT = "/org/marinavm/Marina1"
MANAGER_PATH = ROOT + "/Manager"
MANAGER_IFACE = BUS_NAME + ".Manager"
MACHINE_IFACE = BUS_NAME + ".Machine"
JOB_IFACE = BUS_NAME + ".Job"
ERROR_PREFIX = BUS_NAME + ".Error."

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_DIR = os.environ.get("MARINA_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))

# Tests compare messages with English text: whatever the developer's locale,
# the programs under test speak English unless a test asks for GERMAN (po/de.po,
# compiled into build/po, which MARINA_LOCALEDIR points the uninstalled programs at).
# LC_ALL and LC_MESSAGES are emptied because they would override LANG.
ENGLISH = {"LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "C.UTF-8"}
GERMAN = {"LANGUAGE": "de", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "de_DE.UTF-8",
          "MARINA_LOCALEDIR": os.path.join(BUILD_DIR, "po")}


def require_german():
    """Fails (rather than passing in English) where GERMAN cannot work."""
    catalogue = os.path.join(GERMAN["MARINA_LOCALEDIR"], "de", "LC_MESSAGES", "marina.mo")
    assert os.path.exists(catalogue), f"{catalogue} is not built"
    locales = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split()
    # Without the locale, setlocale() falls back to C and gettext ignores LANGUAGE.
    assert "de_DE.utf8" in locales, "the de_DE.UTF-8 locale is missing: run .ci/setup"
MARINAD = os.path.join(BUILD_DIR, "service", "marinad")


def wait_until(predicate, timeout, what, interval=0.02):
    """Iterates the main context until predicate() is true."""
    deadline = time.monotonic() + timeout
    context = GLib.MainContext.default()
    while True:
        while context.pending():
            context.iteration(False)
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class PrivateBus:
    """A dbus-daemon of our own: tests never touch the host's buses."""

    def __init__(self, directory):
        self.socket = os.path.join(directory, "bus")
        self.address = f"unix:path={self.socket}"
        self.process = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address={self.address}",
             "--print-address=1"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        # It prints its address once it listens: connecting earlier can be refused.
        if not self.process.stdout.readline():
            raise RuntimeError("dbus-daemon did not start")

    def connect(self):
        return Gio.DBusConnection.new_for_address_sync(
            self.address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


class Marinad:
    """The real service, with its own state directory and marina.conf."""

    def __init__(self, bus, directory, accelerator="tcg", extra_conf="", env=None, netns=None,
                 session=False):
        self.bus = bus
        self.netns = netns
        self.session = session
        self.env = {**os.environ, **ENGLISH, **(env or {})}
        self.directory = directory
        self.state_dir = os.path.join(directory, "state")
        self.config = os.path.join(directory, "marina.conf")
        self.log_path = os.path.join(directory, "marinad.log")
        # A cpu cgroup of its own, so that parallel runs never share one; never
        # the host's systemd, even where it is PID 1 (extra_conf may say otherwise).
        self.cgroup_name = "marina-test-" + os.path.basename(directory)
        # The test's folder holds its images (the disk fixture's copies): a storage
        # folder, as marinad opens images only there (extra_conf may say otherwise).
        storage = "" if "[storage]" in extra_conf else f"[storage]\npaths={directory}\n"
        with open(self.config, "w") as conf:
            conf.write(f"[qemu]\naccelerator={accelerator}\n"
                       f"[host]\ncgroup-name={self.cgroup_name}\nsystemd-bus=none\n"
                       f"{storage}{extra_conf}\n")
        self.process = None
        self.connection = bus.connect()

    def start(self):
        log = open(self.log_path, "a")
        # MARINA_TEST_WRAPPER="valgrind -q" or "gdb -batch -ex run -ex bt --args" helps debugging.
        wrapper = os.environ.get("MARINA_TEST_WRAPPER", "").split()
        # Networks are made in a namespace of the test's own, never on the host.
        if self.netns:
            wrapper = ["ip", "netns", "exec", self.netns.name] + wrapper
        self.process = subprocess.Popen(
            wrapper + [MARINAD, "--bus-address", self.bus.address, "--state-dir", self.state_dir,
             "--config", self.config] + (["--session"] if self.session else []),
            stdout=log, stderr=subprocess.STDOUT, env=self.env)
        wait_until(self.has_name, 15, "marinad to own its bus name")
        return self

    def has_name(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"marinad exited with {self.process.returncode}:\n{self.log()}")
        reply = self.connection.call_sync(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
            "NameHasOwner", GLib.Variant("(s)", (BUS_NAME,)), None, 0, -1, None)
        return reply.unpack()[0]

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(15)

    def kill9(self):
        self.process.kill()
        self.process.wait(10)

    def call(self, path, interface, method, signature=None, *args, timeout=60, fd_list=None):
        params = GLib.Variant(f"({signature})", args) if signature else None
        if fd_list is not None:
            reply, fds = self.connection.call_with_unix_fd_list_sync(
                BUS_NAME, path, interface, method, params, None, 0, timeout * 1000, None, None)
            return reply.unpack(), fds
        reply = self.connection.call_sync(BUS_NAME, path, interface, method, params, None, 0,
                                          timeout * 1000, None)
        values = reply.unpack()
        return values[0] if len(values) == 1 else (values if values else None)

    def manager(self, method, signature=None, *args, **kw):
        return self.call(MANAGER_PATH, MANAGER_IFACE, method, signature, *args, **kw)

    def machine(self, path, method, signature=None, *args, **kw):
        return self.call(path, MACHINE_IFACE, method, signature, *args, **kw)

    def prop(self, path, interface, name):
        reply = self.connection.call_sync(
            BUS_NAME, path, "org.freedesktop.DBus.Properties", "Get",
            GLib.Variant("(ss)", (interface, name)), None, 0, 10000, None)
        return reply.unpack()[0]

    def state(self, path):
        return self.prop(path, MACHINE_IFACE, "State")

    def wait_state(self, path, state, timeout=60):
        return wait_until(lambda: self.state(path) == state, timeout,
                          f"machine {path} to be {state} (it is {self.state(path)})")

    def wait_job(self, job_path, timeout=120):
        """Returns (status, error name, message) of a finished job."""
        wait_until(lambda: self.prop(job_path, JOB_IFACE, "Status") != "running", timeout,
                   f"job {job_path}")
        return (self.prop(job_path, JOB_IFACE, "Status"),
                self.prop(job_path, JOB_IFACE, "ErrorName"),
                self.prop(job_path, JOB_IFACE, "Message"))

    def create(self, name, **options):
        return self.manager("CreateMachine", "sa{sv}", name, variant_options(options))

    def events(self, **filters):
        return self.manager("GetEvents", "a{sv}", variant_options(filters))


def variant_options(options):
    """Python values to a{sv}: keys use dashes; ints are t unless listed as u."""
    uint32_keys = {"vcpus", "autostart-delay", "timeout", "limit", "cpu-weight", "cpu-maximum",
                   "cpu-reserve"}
    result = {}
    for key, value in options.items():
        key = key.replace("_", "-")
        if isinstance(value, GLib.Variant):
            result[key] = value
        elif isinstance(value, bool):
            result[key] = GLib.Variant("b", value)
        elif isinstance(value, int):
            result[key] = GLib.Variant("u" if key in uint32_keys else "t", value)
        elif isinstance(value, (list, tuple)):
            result[key] = GLib.Variant("as", list(value))
        else:
            result[key] = GLib.Variant("s", value)
    return result


def dbus_error_name(error):
    """The D-Bus error name carried by a GLib.Error from a call."""
    return Gio.DBusError.get_remote_error(error)


class SignalRecorder:
    """Collects a signal's arguments as they arrive."""

    def __init__(self, connection, interface, member, path=None):
        self.connection = connection
        self.items = []
        self.id = connection.signal_subscribe(
            BUS_NAME, interface, member, path, None, Gio.DBusSignalFlags.NONE,
            lambda conn, sender, obj, iface, name, params: self.items.append((obj, params.unpack())))

    def wait_for(self, predicate, timeout, what):
        return wait_until(lambda: next((i for i in self.items if predicate(i)), None), timeout, what)

    def close(self):
        self.connection.signal_unsubscribe(self.id)


def read_file(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_for_serial(marinad, path, text, timeout=60):
    log = marinad.prop(path, MACHINE_IFACE, "SerialLogPath")
    return wait_until(lambda: text in read_file(log), timeout, f"'{text}' on the serial port")


def wait_for_guest_shell(marinad, path, timeout=60):
    """The guest's init has run (acpid listens) once its shell prompt shows."""
    return wait_for_serial(marinad, path, "marina-guest#", timeout)


def open_serial(marinad, path):
    (reply, fds) = marinad.call(path, MACHINE_IFACE, "OpenSerial", fd_list=True)
    return socket.socket(fileno=fds.get(reply[0]))


def serial_roundtrip(sock, command, expected, timeout=30):
    sock.settimeout(0.5)
    received = b""
    deadline = time.monotonic() + timeout
    sock.sendall(command.encode() + b"\n")
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            sock.sendall(b"\n")
            continue
        received += chunk
        if expected.encode() in received:
            return True
    raise AssertionError(f"no '{expected}' from the guest; it said: {received[-500:]!r}")


def write_script(directory, name, body):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def recording_script(directory, name):
    """A script that appends its event and environment to a file next to it."""
    record = os.path.join(directory, name + ".log")
    path = write_script(directory, name,
                        f'echo "$MARINA_EVENT $MARINA_MACHINE_NAME $MARINA_REASON '
                        f'$MARINA_MACHINE_STATE" >> {record}\necho hello from $MARINA_EVENT\n')
    return path, record


def build_guest():
    """Builds (or finds in the cache) the test guest and returns its image path."""
    cache = os.environ.get("MARINA_CACHE_DIR",
                           os.path.join(os.path.expanduser("~"), ".cache", "marina"))
    out = subprocess.run([os.path.join(SOURCE_DIR, "tests", "guest", "build-guest"),
                          os.path.join(cache, "guest")],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return out.strip().splitlines()[-1]


def copy_image(image, directory, name):
    """Each machine gets its own copy: QEMU locks an image it writes to."""
    target = os.path.join(directory, name)
    subprocess.run(["cp", "--reflink=auto", image, target], check=True)
    return target


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def cgroup_dirs(pid):
    """The cgroup directories of a process: (cpu hierarchy dir, version)."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.strip().split(":", 2) for line in f]
    for _, controllers, path in lines:
        if "cpu" in controllers.split(","):
            for mount in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"):
                if os.path.exists(mount + path):
                    return mount + path, 1
    for number, controllers, path in lines:
        if number == "0":
            for mount in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
                if os.path.exists(os.path.join(mount + path, "cpu.weight")):
                    return mount + path, 2
    return None, 0


def remove_cgroups(name, timeout=10):
    """Removes a test's cpu cgroup tree, once the QEMUs killed last have left it."""
    deadline = time.monotonic() + timeout
    while _remove_cgroups_once(name) and time.monotonic() < deadline:
        time.sleep(0.1)


def _remove_cgroups_once(name):
    """Returns whether something is left."""
    left = False
    for mount in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup",
                  "/sys/fs/cgroup/unified"):
        top = os.path.join(mount, name)
        if os.path.isdir(top):
            for entry in os.listdir(top):
                child = os.path.join(top, entry)
                if os.path.isdir(child):
                    try:
                        os.rmdir(child)
                    except OSError:
                        left = True
            try:
                os.rmdir(top)
            except OSError:
                left = True
    return left


def kill_pid_files(root, name):
    """Kill (by pid, never by name) each process whose pid is in a file
    called @name below @root."""
    for directory, _, files in os.walk(root):
        if name in files:
            with open(os.path.join(directory, name)) as f:
                pid = int(f.read().strip() or 0)
            if pid > 0 and pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


def kill_machines(marinad):
    """QEMU outlives marinad by design: a test must stop its own by pid."""
    kill_pid_files(os.path.join(marinad.state_dir, "run", "machines"), "qemu.pid")


class NetNs:
    """A network namespace of the test's own: marinad's bridges, taps and
    dnsmasq live in it and vanish with it."""

    def __init__(self, prefix="mt"):
        self.name = f"{prefix}-{os.getpid()}-{next(_netns_counter)}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *command, check=True, timeout=30):
        return subprocess.run(["ip", "netns", "exec", self.name, *command], check=check,
                              capture_output=True, text=True, timeout=timeout)

    def succeeds(self, *command):
        return self.run(*command, check=False).returncode == 0

    def delete(self):
        subprocess.run(["ip", "netns", "del", self.name], check=False)


_netns_counter = iter(range(1, 1000000))


def kill_networks(marinad):
    """Active networks outlive marinad by design: stop their dnsmasq by pid
    and unmount the DHCP namespaces of internal networks."""
    run_dir = os.path.join(marinad.state_dir, "run", "networks")
    kill_pid_files(run_dir, "dnsmasq.pid")
    for root, _, files in os.walk(run_dir):
        if "netns" in files:
            subprocess.run(["umount", "-l", os.path.join(root, "netns")], check=False,
                           capture_output=True)


def make_temp_dir():
    # Short paths: QEMU's Unix sockets live below it (108-byte limit).
    return tempfile.mkdtemp(prefix="mt-", dir="/tmp")


def remove_dir(path):
    shutil.rmtree(path, ignore_errors=True)


# ---- access control: a system-like bus, polkitd, callers of other uids ----

SYSTEM_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


class SystemLikeBus(PrivateBus):
    """A private bus that, like the system bus, admits every uid, so that
    callers of other users reach marinad and polkitd through it."""

    def __init__(self, directory):
        os.chmod(directory, 0o755)
        self.socket = os.path.join(directory, "system_bus_socket")
        self.address = f"unix:path={self.socket}"
        config = os.path.join(directory, "system-bus.conf")
        with open(config, "w") as f:
            f.write(SYSTEM_BUS_CONFIG.format(socket=self.socket))
        self.process = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile",
             "--print-address=1"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if not self.process.stdout.readline():
            raise RuntimeError("dbus-daemon did not start")


POLKIT_ACTIONS_DIR = "/usr/share/polkit-1/actions"
POLKIT_RULES_DIR = "/etc/polkit-1/rules.d"
POLICY_NAME = "org.marinavm.Marina1.policy"


class Polkitd:
    """polkitd on a private bus, with Marina's actions installed where
    polkitd reads them (it has no option for another folder) and optional
    JavaScript rules; both are removed again by stop()."""

    def __init__(self, bus, directory, rules=None):
        self.installed = []
        policy = os.path.join(POLKIT_ACTIONS_DIR, POLICY_NAME)
        if not os.path.exists(policy):
            # The merged policy (with its translations), as meson install puts it.
            shutil.copy(os.path.join(BUILD_DIR, "service", "data", POLICY_NAME), policy)
            self.installed.append(policy)
        if rules:
            path = os.path.join(POLKIT_RULES_DIR, f"10-marina-test-{os.getpid()}.rules")
            with open(path, "w") as f:
                f.write(rules)
            self.installed.append(path)
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        self.log_path = os.path.join(directory, "polkitd.log")
        self.process = subprocess.Popen(["/usr/lib/polkit-1/polkitd", "--no-debug"], env=env,
                                        stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        self.connection = bus.connect()
        wait_until(self.has_name, 15, "polkitd to own its bus name")

    def has_name(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"polkitd exited with {self.process.returncode}")
        reply = self.connection.call_sync(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
            "NameHasOwner", GLib.Variant("(s)", ("org.freedesktop.PolicyKit1",)), None, 0, -1,
            None)
        return reply.unpack()[0]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        for path in self.installed:
            os.unlink(path)


CALLER_SCRIPT = r"""
import json, sys
from gi.repository import Gio, GLib
address, path, interface, method, signature, args = sys.argv[1:7]
connection = Gio.DBusConnection.new_for_address_sync(
    address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
    | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
params = GLib.Variant(f"({signature})", tuple(json.loads(args))) if signature else None
try:
    reply = connection.call_sync("org.marinavm.Marina1", path, interface, method, params,
                                 None, 0, 60000, None)
    print(json.dumps({"result": reply.unpack()}))
except GLib.Error as e:
    name = Gio.DBusError.get_remote_error(e)
    message = e.message.split(": ", 1)[1] if e.message.startswith("GDBus.Error:") else e.message
    print(json.dumps({"error": name, "message": message}))
"""


class CallerError(Exception):
    def __init__(self, name, message):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def call_as(user, bus, path, interface, method, signature=None, *args):
    """Calls marinad as another user (setpriv, no supplementary groups but
    the user's own); returns the reply's values or raises CallerError."""
    import json
    import pwd
    account = pwd.getpwnam(user)
    output = subprocess.run(
        ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups",
         "/usr/bin/python3", "-c", CALLER_SCRIPT, bus.address, path, interface, method,
         signature or "", json.dumps(list(args))],
        capture_output=True, text=True, cwd="/", timeout=90)
    if output.returncode != 0:
        raise RuntimeError(f"the caller failed: {output.stderr}")
    reply = json.loads(output.stdout)
    if "error" in reply:
        raise CallerError(reply["error"], reply["message"])
    values = reply["result"]
    return values[0] if len(values) == 1 else values


# ---- direct TCP consoles: x509 certificates for QEMU's VNC TLS ----

def make_tls_dir(directory):
    """A certificate authority and a server certificate for 127.0.0.1, in the
    file names QEMU's tls-creds-x509 reads. Returns the folder."""
    tls = os.path.join(directory, "tls")
    os.makedirs(tls, exist_ok=True)

    def path(name):
        return os.path.join(tls, name)

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    with open(path("ca.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
    with open(path("server.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("ca-key.pem"),
        "-out", path("ca-cert.pem"), "-days", "2", "-subj", "/CN=Marina test authority",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", path("server-key.pem"),
        "-out", path("server.csr"), "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", path("server.csr"), "-CA", path("ca-cert.pem"),
        "-CAkey", path("ca-key.pem"), "-CAcreateserial", "-out", path("server-cert.pem"),
        "-days", "2", "-extfile", path("server.ext"))
    os.chmod(path("server-key.pem"), 0o600)
    return tls


def free_tcp_port(low=5900):
    """A port at or above low that nothing listens on now (loopback only)."""
    for port in range(low, low + 2000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


NETWORK_MANAGER = "/usr/sbin/NetworkManager"

NM_CONFIG = """[main]
plugins=keyfile
no-auto-default=*
dhcp=internal
[keyfile]
path={keyfiles}
[logging]
level=INFO
"""

# NetworkManager takes udev to be running, and waits for it to announce
# each device, unless /sys is read-only (as in containers): so it gets a
# mount namespace of its own with /sys read-only, and private state folders.
NM_SCRIPT = """mount -o remount,bind,ro /sys || mount -o remount,ro /sys || exit 1
for d in /run/NetworkManager /var/lib/NetworkManager; do
  mkdir -p $d && mount -t tmpfs tmpfs $d || exit 1
done
exec {program} --no-daemon --debug --config {config}
"""


class NetworkManagerDaemon:
    """NetworkManager inside a test's network namespace, on the test's
    private bus as its system bus: the host's interfaces never see it."""

    NAME = "org.freedesktop.NetworkManager"

    def __init__(self, netns, bus, directory):
        keyfiles = os.path.join(directory, "nm-keyfiles")
        os.makedirs(keyfiles, exist_ok=True)
        config = os.path.join(directory, "NetworkManager.conf")
        with open(config, "w") as f:
            f.write(NM_CONFIG.format(keyfiles=keyfiles))
        self.bus = bus
        self.log_path = os.path.join(directory, "NetworkManager.log")
        script = NM_SCRIPT.format(program=NETWORK_MANAGER, config=config)
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", netns.name, "unshare", "-m", "--propagation", "private",
             "sh", "-c", script],
            env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address),
            stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)
        self.connection = bus.connect()
        wait_until(self.has_name, 30, "NetworkManager to own its bus name")

    def has_name(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"NetworkManager exited with {self.process.returncode}:\n"
                               + open(self.log_path).read())
        reply = self.connection.call_sync(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
            "NameHasOwner", GLib.Variant("(s)", (self.NAME,)), None, 0, -1, None)
        return reply.unpack()[0]

    def nmcli(self, *args):
        return subprocess.run(["nmcli", *args], check=True, capture_output=True, text=True,
                              env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address),
                              timeout=30).stdout

    def device_states(self):
        """interface → NM's state of it (connected, disconnected, unmanaged…)."""
        rows = self.nmcli("-t", "-f", "DEVICE,STATE", "device").splitlines()
        return dict(row.split(":", 1) for row in rows if ":" in row)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def connection_ids(self):
        return self.nmcli("-t", "-f", "NAME", "connection").split()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
