# SPDX-License-Identifier: LGPL-2.1-or-later
"""marina-console against the real marinad and the test guest, under Xvfb."""

import os
import shutil

from console_harness import difference, distinct_colours, load_png
from marina_harness import MACHINE_IFACE, wait_for_guest_shell, wait_for_serial, wait_until

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
