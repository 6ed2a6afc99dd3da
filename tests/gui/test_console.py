# SPDX-License-Identifier: LGPL-2.1-or-later
"""marina-console against the real marinad and the test guest, under Xvfb."""

import os
import shutil

from console_harness import CONSOLE, difference, distinct_colours, load_png
from marina_harness import (MACHINE_IFACE, open_serial, serial_roundtrip, wait_for_guest_shell,
                            wait_for_serial, wait_until)

ARTIFACTS = os.environ.get("MARINA_ARTIFACTS_DIR", "/tmp/marina-console-artifacts")


def keep(path):
    """Keeps a picture for a person to look at after the run."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    shutil.copy(path, ARTIFACTS)


def matching_screenshots(marinad, machine, viewer, workdir, attempts=5):
    """The viewer's framebuffer and QEMU's screendump, taken back to back until
    they agree: the text cursor blinks between the two."""
    best = None
    for attempt in range(attempts):
        mine = viewer.save_screenshot(os.path.join(workdir, f"viewer{attempt}.png"))
        theirs = bytes(marinad.machine(machine, "Screenshot"))
        a, b = load_png(mine), load_png(theirs)
        assert (a.get_width(), a.get_height()) == (b.get_width(), b.get_height())
        diff = difference(a, b)
        if best is None or diff < best[0]:
            best = (diff, mine)
        if diff == 0:
            break
    return best


def test_console_shows_the_guest_screen(marinad, running_machine, console, xvfb, workdir):
    wait_for_guest_shell(marinad, running_machine)
    viewer = console("guest")
    viewer.wait_log("console connected")
    diff, mine = matching_screenshots(marinad, running_machine, viewer, workdir)
    keep(mine)
    keep(xvfb.screenshot(os.path.join(workdir, "xvfb-console.png")))
    assert distinct_colours(load_png(mine)) > 1, "the viewer's framebuffer is blank"
    # Only the blinking cursor (a few dozen pixels) may differ.
    assert diff < 0.002, f"{diff:.2%} of the pixels differ from Screenshot()"


def test_typing_reaches_the_guest_and_the_screen_follows(marinad, running_machine, console,
                                                         xvfb, workdir):
    wait_for_guest_shell(marinad, running_machine)
    viewer = console("guest")
    viewer.wait_log("console connected")
    # Typed on tty1 (VGA), the shell's answer comes out of the serial port;
    # $((6*7)) tells a command that ran from its own echo.
    viewer.type("echo typed-$((6*7))-vga > /dev/ttyS0")
    wait_for_serial(marinad, running_machine, "typed-42-vga", timeout=60)
    # The typed line is on the guest's screen now: the viewer must have
    # followed (it keeps asking QEMU for updates), not kept the first frame.
    diff, mine = wait_until(lambda: (lambda d: d if d[0] < 0.002 else None)(
        matching_screenshots(marinad, running_machine, viewer, workdir)), 20,
        "the viewer to show what QEMU shows")
    keep(xvfb.screenshot(os.path.join(workdir, "xvfb-typed.png")))


def test_console_survives_a_restart_of_marinad(marinad, running_machine, console):
    wait_for_guest_shell(marinad, running_machine)
    viewer = console("guest")
    viewer.wait_log("console connected")
    marinad.stop()
    viewer.wait_log("service vanished")
    marinad.start()
    viewer.wait_log("service appeared", count=2)
    wait_until(lambda: "Running" in viewer.xdotool("getwindowname", viewer.window_id()), 30,
               "the window to show the machine running again")
    viewer.type("echo after-restart-$((6*7)) > /dev/ttyS0")
    wait_for_serial(marinad, running_machine, "after-restart-42", timeout=60)


def test_console_reconnects_when_the_machine_restarts(marinad, running_machine, console):
    wait_for_guest_shell(marinad, running_machine)
    viewer = console("guest")
    viewer.wait_log("console connected")
    marinad.machine(running_machine, "TurnOff")
    viewer.wait_log("machine state: off")
    wait_until(lambda: "Off" in viewer.xdotool("getwindowname", viewer.window_id()), 30,
               "the window to show the machine off")
    job = marinad.machine(running_machine, "Start")
    assert marinad.wait_job(job)[0] == "completed"
    viewer.wait_log("console connected", count=2)
    wait_for_guest_shell(marinad, running_machine)
    viewer.type("echo second-boot-$((6*7)) > /dev/ttyS0")
    wait_for_serial(marinad, running_machine, "second-boot-42", timeout=60)


def test_console_closes_when_the_machine_is_removed(marinad, running_machine, console):
    viewer = console("guest")
    viewer.wait_log("console connected")
    marinad.machine(running_machine, "TurnOff")
    marinad.wait_state(running_machine, "off")
    marinad.machine(running_machine, "Remove")
    assert viewer.wait_exit(30) == 0
    assert "The machine guest was removed." in viewer.log()


def test_unknown_machine_is_refused_in_the_api_words(marinad, console, xvfb, workdir):
    viewer = console("no-such-machine")
    viewer.wait_log("status: ")
    wait_until(lambda: "no-such-machine" in viewer.log().split("Looking for the machine")[-1],
               30, "the refusal")
    # The status page shows the service's own message, not a GDBus error name.
    assert "GDBus.Error" not in viewer.log().split("Looking for the machine")[-1]


def test_serial_console(marinad, running_machine, console):
    wait_for_guest_shell(marinad, running_machine)
    viewer = console("guest", "--serial")
    viewer.wait_log("serial console connected")
    viewer.type("echo serial-view-$((6*7))")
    wait_for_serial(marinad, running_machine, "serial-view-42", timeout=60)


def test_remote_console_over_ssh(marinad, running_machine, console, sshd, workdir):
    """--connect ssh://: the bus through --stdio-bridge, the screen through
    --console-proxy, each in an ssh of its own to a real sshd on loopback."""
    wait_for_guest_shell(marinad, running_machine)
    # --address names the bus on the remote host.
    viewer = console("guest", "--connect", sshd.url(), "--remote-console", CONSOLE,
                     env={"MARINA_SSH_OPTIONS": sshd.client_options()})
    viewer.wait_log("console connected")
    assert "--console-proxy" in viewer.log() and "--stdio-bridge" in viewer.log()
    diff, mine = matching_screenshots(marinad, running_machine, viewer, workdir)
    keep(mine)
    assert distinct_colours(load_png(mine)) > 1, "the viewer's framebuffer is blank"
    assert diff < 0.002, f"{diff:.2%} of the pixels differ from Screenshot()"
    viewer.type("echo over-ssh-$((6*7)) > /dev/ttyS0")
    wait_for_serial(marinad, running_machine, "over-ssh-42", timeout=60)
    # Machine actions go through the bridged bus.
    wait_until(lambda: "Running" in viewer.xdotool("getwindowname", viewer.window_id()), 30,
               "the window to show the machine running")
    viewer.activate("pause")
    marinad.wait_state(running_machine, "paused")
    wait_until(lambda: "Paused" in viewer.xdotool("getwindowname", viewer.window_id()), 30,
               "the window to show the machine paused")
    viewer.activate("resume")
    marinad.wait_state(running_machine, "running")


# The guest's cloud kernel has no DRM or VESA framebuffer driver (CONFIG_DRM
# and CONFIG_FB_VESA are off), so the test switches modes as bochs-drm would:
# through the Bochs VBE registers in the std VGA's MMIO BAR (0x500 + 2 *
# index), with busybox devmem. Scattered pixels of many colours then give
# the comparison something to get wrong (dd into /dev/mem fails with EFAULT
# on this kernel; devmem maps the page instead).
VBE_MODE = """for d in /sys/bus/pci/devices/*; do
[ "$(cat $d/vendor):$(cat $d/device)" = 0x1234:0x1111 ] || continue;
mmio=$(sed -n 3p $d/resource | cut -d' ' -f1); fb=$(sed -n 1p $d/resource | cut -d' ' -f1); done;
vbe() { devmem $((mmio + 0x500 + $1 * 2)) 16 $2; };
vbe 4 0; vbe 3 32; vbe 1 {w}; vbe 2 {h}; vbe 6 {w}; vbe 7 {h}; vbe 8 0; vbe 9 0; vbe 4 0x41;
i=0; while [ $i -lt 300 ]; do
devmem $((fb + (i * 7919 % ({w} * {h})) * 4)) 32 $((i * 0x9e3779 & 0xffffff)); i=$((i + 1)); done;
echo vbe-$((6*7))-{w}x{h}"""


def set_guest_mode(marinad, machine, width, height):
    sock = open_serial(marinad, machine)
    try:
        script = VBE_MODE.replace("{w}", str(width)).replace("{h}", str(height))
        serial_roundtrip(sock, script.replace("\n", " "), f"vbe-42-{width}x{height}", timeout=60)
    finally:
        sock.close()


def test_console_follows_a_resize(marinad, running_machine, console, workdir):
    wait_for_guest_shell(marinad, running_machine)
    viewer = console("guest")
    viewer.wait_log("console connected: 720x400")  # VGA text mode
    for width, height in ((1024, 768), (800, 600)):
        set_guest_mode(marinad, running_machine, width, height)
        viewer.wait_log(f"guest resolution {width}x{height}")
        diff, mine = wait_until(lambda: (lambda d: d if d[0] == 0 else None)(
            matching_screenshots(marinad, running_machine, viewer, workdir)), 20,
            f"the viewer to show QEMU's {width}x{height} screen")
        picture = load_png(mine)
        assert (picture.get_width(), picture.get_height()) == (width, height)
        assert distinct_colours(picture) > 100, "the scattered pixels are missing"
        keep(mine)


def test_remote_serial_console_over_ssh(marinad, running_machine, console, sshd):
    wait_for_guest_shell(marinad, running_machine)
    viewer = console("guest", "--serial", "--connect", sshd.url(), "--remote-console", CONSOLE,
                     env={"MARINA_SSH_OPTIONS": sshd.client_options()})
    viewer.wait_log("serial console connected")
    viewer.type("echo serial-over-ssh-$((6*7))")
    wait_for_serial(marinad, running_machine, "serial-over-ssh-42", timeout=60)
