# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs marina-console under Xvfb against the harness's private bus.

The console is a real GTK application: the tests type into it with xdotool
(X events through GTK, the widget and its scancode map), and drive its
window actions through org.gtk.Actions, as any desktop would."""

import os
import pwd
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))

from gi.repository import Gio, GLib  # noqa: E402

from marina_harness import BUILD_DIR, ENGLISH, wait_until  # noqa: E402

import gi  # noqa: E402
gi.require_version("GdkPixbuf", "2.0")
from gi.repository import GdkPixbuf  # noqa: E402

CONSOLE = os.path.join(BUILD_DIR, "gui", "marina-console")
MANAGER = os.path.join(BUILD_DIR, "gui", "marina")


class Xvfb:
    """An X server of our own; -displayfd picks a free display number."""

    def __init__(self, width=1280, height=1024):
        read_end, write_end = os.pipe()
        self.process = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{width}x{height}x24",
             "-nolisten", "tcp", "-noreset"],
            pass_fds=[write_end], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_end)
        with os.fdopen(read_end) as f:
            self.display = ":" + f.readline().strip()

    def screenshot(self, path):
        """What a person would see: the whole X screen, through ImageMagick."""
        subprocess.run(["import", "-display", self.display, "-window", "root", path], check=True)
        return path

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


class Console:
    """One marina-console process and what it logs."""

    PROGRAM = CONSOLE
    WINDOW_PATH = "/org/marinavm/Console/window/1"
    DEBUG_DOMAINS = "marina-console marina-vnc"

    def __init__(self, xvfb, bus, machine, directory, extra_args=(), extra_env=None, user=None):
        self.xvfb = xvfb
        self.bus = bus
        self.name = os.path.basename(self.PROGRAM)
        self.log_path = os.path.join(directory, f"{self.name}-{time.monotonic_ns()}.log")
        env = dict(os.environ, **ENGLISH)
        env.update(DISPLAY=xvfb.display, GDK_BACKEND="x11", GSK_RENDERER="cairo",
                   G_MESSAGES_DEBUG=self.DEBUG_DOMAINS, NO_AT_BRIDGE="1",
                   GTK_A11Y="none", GSETTINGS_BACKEND="memory",
                   # The window's actions are exported on the "session" bus:
                   # the private bus stands in for it.
                   DBUS_SESSION_BUS_ADDRESS=bus.address)
        env.update(extra_env or {})
        self.log_file = open(self.log_path, "w")
        # As another user: setpriv with that user's uid and groups.
        prefix = []
        if user is not None:
            account = pwd.getpwnam(user)
            prefix = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
                      "--init-groups"]
            env["HOME"] = directory
        self.process = subprocess.Popen(
            prefix + [self.PROGRAM, "--address", bus.address, *extra_args]
            + ([machine] if machine is not None else []),
            env=env, stdout=self.log_file, stderr=subprocess.STDOUT)
        self.connection = bus.connect()
        self._name = None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, text, timeout=60, count=1):
        """Waits until text has been logged count times."""
        def seen():
            if self.process.poll() is not None and self.log().count(text) < count:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n"
                                   + self.log())
            return self.log().count(text) >= count
        return wait_until(seen, timeout, f"'{text}' x{count} from {self.name}")

    def bus_name(self):
        """The console's unique name, found by its pid."""
        if self._name:
            return self._name
        def find():
            names = self._dbus("ListNames")[0]
            for name in names:
                if not name.startswith(":"):
                    continue
                try:
                    if self._dbus("GetConnectionUnixProcessID", "(s)", name)[0] == \
                            self.process.pid and self._has_window(name):
                        return name
                except GLib.Error:
                    continue
            return None
        self._name = wait_until(find, 30, f"{self.name}'s actions on the bus")
        return self._name

    def _dbus(self, method, signature=None, *args):
        return self.connection.call_sync(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", method,
            GLib.Variant(signature, args) if signature else None, None, 0, 5000, None).unpack()

    def _has_window(self, name):
        try:
            self.connection.call_sync(name, self.WINDOW_PATH, "org.gtk.Actions", "List", None, None,
                                      0, 5000, None)
            return True
        except GLib.Error:
            return False

    def activate(self, action, parameter=None):
        """Activates a win.* action as a menu item or accelerator would."""
        params = [parameter] if parameter is not None else []
        self.connection.call_sync(
            self.bus_name(), self.WINDOW_PATH, "org.gtk.Actions", "Activate",
            GLib.Variant("(sava{sv})", (action, params, {})), None, 0, 10000, None)

    def save_screenshot(self, path):
        if os.path.exists(path):
            os.unlink(path)
        self.activate("save-screenshot", GLib.Variant("s", path))
        wait_until(lambda: os.path.exists(path) and os.path.getsize(path) > 0, 10,
                   "the console's screenshot")
        return path

    def xdotool(self, *args):
        return subprocess.run(["xdotool", *args], check=True, stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, DISPLAY=self.xvfb.display)).stdout

    def window_id(self):
        def find():
            try:
                return self.xdotool("search", "--pid", str(self.process.pid)).split()
            except subprocess.CalledProcessError:
                return None
        ids = wait_until(find, 30, f"{self.name}'s X window")
        return ids[-1]

    def type(self, text):
        """Types through X: GTK gets real key events with hardware keycodes."""
        window = self.window_id()
        self.xdotool("windowfocus", "--sync", window)
        self.xdotool("type", "--delay", "40", text)
        self.xdotool("key", "Return")

    def wait_exit(self, timeout=30):
        return self.process.wait(timeout)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log_file.close()


class Sshd:
    """A private OpenSSH server on 127.0.0.1, for root with a key of its own.

    The host's sshd and ~/.ssh are left alone: the host key, the client key
    and authorized_keys live in directory, and StrictModes is off because a
    test's temporary directory need not be root's alone."""

    SSHD = "/usr/sbin/sshd"  # sshd re-executes itself: it needs its absolute path

    def __init__(self, directory):
        self.directory = os.path.join(directory, "ssh")
        os.makedirs(self.directory)
        self.host_key = self._keygen("host_key")
        self.client_key = self._keygen("client_key")
        with open(self.client_key + ".pub") as src, \
                open(os.path.join(self.directory, "authorized_keys"), "w") as dst:
            dst.write(src.read())
        self.port = self._free_port()
        config = self._write_config()
        # sshd refuses to start without its privilege separation directory.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.log_path = os.path.join(self.directory, "sshd.log")
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen([self.SSHD, "-D", "-e", "-f", config],
                                            stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._listening, 10, f"sshd on port {self.port}")

    def _keygen(self, name):
        path = os.path.join(self.directory, name)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
        return path

    @staticmethod
    def _free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def _write_config(self):
        path = os.path.join(self.directory, "sshd_config")
        with open(path, "w") as f:
            f.write(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.host_key}
AuthorizedKeysFile {self.directory}/authorized_keys
PidFile {self.directory}/sshd.pid
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
""")
        return path

    def _listening(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"sshd exited ({self.process.returncode}):\n"
                               + open(self.log_path).read())
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def url(self):
        return f"ssh://root@127.0.0.1:{self.port}"

    def client_options(self):
        """What MARINA_SSH_OPTIONS must say for ssh to log in here unattended."""
        return (f"-i {self.client_key} -o IdentitiesOnly=yes -o BatchMode=yes"
                " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


def load_png(path_or_bytes):
    """(width, height, RGB rows as bytes) of a PNG file or PNG data."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        loader = GdkPixbuf.PixbufLoader.new_with_type("png")
        loader.write(bytes(path_or_bytes))
        loader.close()
        pixbuf = loader.get_pixbuf()
    else:
        pixbuf = GdkPixbuf.Pixbuf.new_from_file(path_or_bytes)
    return pixbuf


def rgb_pixels(pixbuf):
    """Each pixel's (r, g, b), row by row, whatever the alpha and row padding."""
    data = pixbuf.get_pixels()
    channels = pixbuf.get_n_channels()
    stride = pixbuf.get_rowstride()
    return [tuple(data[y * stride + x * channels:y * stride + x * channels + 3])
            for y in range(pixbuf.get_height()) for x in range(pixbuf.get_width())]


def difference(a, b):
    """The fraction of pixels that differ between two images of one size."""
    pa, pb = rgb_pixels(a), rgb_pixels(b)
    return sum(1 for x, y in zip(pa, pb) if x != y) / len(pa)


def distinct_colours(pixbuf):
    return len(set(rgb_pixels(pixbuf)))


class Manager(Console):
    """One marina (the manager) process. MARINA_TEST_HOOKS=1 adds the window
    actions save-picture and fill-assistant (see gui/marina-window.c)."""

    PROGRAM = MANAGER
    WINDOW_PATH = "/org/marinavm/Manager/window/1"
    DEBUG_DOMAINS = "marina"

    def __init__(self, xvfb, bus, directory, extra_args=(), extra_env=None):
        super().__init__(xvfb, bus, None, directory, extra_args,
                         dict({"MARINA_TEST_HOOKS": "1"}, **(extra_env or {})))

    def save_picture(self, path, what="window"):
        """What GTK renders for the window (or the assistant), as a PNG."""
        if os.path.exists(path):
            os.unlink(path)

        def saved():
            # A window just presented has no size until its first frame: ask again.
            if not os.path.exists(path):
                self.activate("save-picture", GLib.Variant("(ss)", (what, path)))
                time.sleep(0.2)
            return os.path.exists(path) and os.path.getsize(path) > 0
        wait_until(saved, 20, f"the picture {path}")
        return path


NOTIFICATIONS_XML = """
<node>
  <interface name="org.freedesktop.Notifications">
    <method name="Notify">
      <arg type="s" direction="in"/><arg type="u" direction="in"/>
      <arg type="s" direction="in"/><arg type="s" direction="in"/>
      <arg type="s" direction="in"/><arg type="as" direction="in"/>
      <arg type="a{sv}" direction="in"/><arg type="i" direction="in"/>
      <arg type="u" direction="out"/>
    </method>
    <method name="CloseNotification"><arg type="u" direction="in"/></method>
    <method name="GetCapabilities"><arg type="as" direction="out"/></method>
    <method name="GetServerInformation">
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
    </method>
    <signal name="NotificationClosed"><arg type="u"/><arg type="u"/></signal>
    <signal name="ActionInvoked"><arg type="u"/><arg type="s"/></signal>
  </interface>
</node>
"""


class NotificationServer:
    """A stand-in for the desktop's notification daemon on the test bus.

    Without a portal and without an org.gtk.Notifications owner (GNOME
    Shell's), GLib's GNotification falls back to org.freedesktop.Notifications,
    so that is the name this owns. Calls are served while the test iterates
    the main context (wait_until does)."""

    NAME = "org.freedesktop.Notifications"
    PATH = "/org/freedesktop/Notifications"

    def __init__(self, bus):
        self.connection = bus.connect()
        self.received = []  # (app_name, summary, body, hints)
        info = Gio.DBusNodeInfo.new_for_xml(NOTIFICATIONS_XML).interfaces[0]
        self.registration = self.connection.register_object(self.PATH, info, self._call, None,
                                                            None)
        reply = self.connection.call_sync(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
            "RequestName", GLib.Variant("(su)", (self.NAME, 4)), None, 0, 5000, None)
        assert reply.unpack()[0] == 1, "someone else owns org.freedesktop.Notifications"

    def _call(self, connection, sender, path, interface, method, params, invocation):
        if method == "Notify":
            app, _, _, summary, body, _, hints, _ = params.unpack()
            self.received.append((app, summary, body, hints))
            invocation.return_value(GLib.Variant("(u)", (len(self.received),)))
        elif method == "GetCapabilities":
            invocation.return_value(GLib.Variant("(as)", (["body", "actions"],)))
        elif method == "GetServerInformation":
            invocation.return_value(GLib.Variant("(ssss)", ("stand-in", "marina", "1", "1.2")))
        else:
            invocation.return_value(None)

    def wait_for(self, summary, timeout=60):
        return wait_until(lambda: next((n for n in self.received if n[1] == summary), None),
                          timeout, f"the notification '{summary}' (got {self.received})")

    def stop(self):
        self.connection.unregister_object(self.registration)
        self.connection.close_sync(None)
