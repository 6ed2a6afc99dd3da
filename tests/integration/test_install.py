# SPDX-License-Identifier: LGPL-2.1-or-later
"""`meson install` puts marinad where the system bus and systemd find it,
hardened, with a bus policy that lets only root own the name and the polkit
actions the authorizer asks about."""

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from marina_harness import BUILD_DIR


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    destdir = str(tmp_path_factory.mktemp("destdir"))
    subprocess.run(["meson", "install", "-C", BUILD_DIR, "--destdir", destdir, "--quiet"],
                   check=True, capture_output=True)
    prefix = subprocess.run(["meson", "introspect", "--buildoptions", BUILD_DIR],
                            capture_output=True, text=True, check=True).stdout
    prefix = re.search(r'"name": "prefix", "value": "([^"]+)"', prefix).group(1)
    yield destdir, prefix
    shutil.rmtree(destdir, ignore_errors=True)


def find(destdir, name):
    for root, _, files in os.walk(destdir):
        if name in files:
            return os.path.join(root, name)
    raise AssertionError(f"{name} was not installed")


def test_unit_is_hardened_and_valid(installed):
    destdir, _ = installed
    unit = open(find(destdir, "marinad.service")).read()
    for directive in ("Type=dbus", "ProtectSystem=strict", "StateDirectory=marina",
                      "RuntimeDirectory=marina", "NoNewPrivileges=yes", "PrivateTmp=yes"):
        assert directive in unit
    capabilities = re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M).group(1).split()
    assert "CAP_NET_ADMIN" in capabilities and "CAP_SETUID" in capabilities
    assert "CAP_SYS_ADMIN" not in capabilities and "CAP_SYS_MODULE" not in capabilities
    # systemd itself finds nothing to object to (with the installed binary's path).
    marinad = find(destdir, "marinad")
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
    copy = os.path.join(destdir, "verify", "marinad.service")
    os.makedirs(os.path.dirname(copy), exist_ok=True)
    with open(copy, "w") as f:
        f.write(unit.replace(exec_start, marinad))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", copy],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "marinad.service" not in result.stderr, result.stderr


def test_activation_file_points_at_the_service(installed):
    destdir, prefix = installed
    activation = open(find(destdir, "org.marinavm.Marina1.service")).read()
    assert "Name=org.marinavm.Marina1" in activation
    assert "SystemdService=marinad.service" in activation
    exec_path = re.search(r"^Exec=(.*)$", activation, re.M).group(1)
    assert os.path.exists(destdir + exec_path)


def test_only_root_owns_the_name(installed):
    destdir, _ = installed
    policy = ET.parse(find(destdir, "org.marinavm.Marina1.conf")).getroot()
    owners = [p.attrib for p in policy.iter("policy") if p.find("allow[@own]") is not None]
    assert owners == [{"user": "root"}]


def test_polkit_actions_match_the_authorizer(installed):
    destdir, _ = installed
    path = find(destdir, "org.marinavm.Marina1.policy")
    subprocess.run(["xmllint", "--noout", path], check=True)
    actions = {a.get("id"): a for a in ET.parse(path).getroot().iter("action")}
    assert set(actions) == {"org.marinavm.Marina1.use-machines",
                            "org.marinavm.Marina1.configure-machines",
                            "org.marinavm.Marina1.create-machines",
                            "org.marinavm.Marina1.administer"}
    for action in actions.values():
        assert action.find("defaults/allow_active").text.startswith("auth_admin")
        assert action.find("defaults/allow_any").text != "yes"


XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def test_polkit_actions_speak_german(installed):
    """polkit shows the authentication dialog in the user's language: every
    action carries a German description and message next to the English."""
    destdir, _ = installed
    path = find(destdir, "org.marinavm.Marina1.policy")
    for action in ET.parse(path).getroot().iter("action"):
        for element in ("description", "message"):
            texts = {e.get(XML_LANG): e.text for e in action.findall(element)}
            assert texts.get(None), f"{action.get('id')} has no English {element}"
            german = texts.get("de")
            assert german and german != texts[None], \
                f"{action.get('id')} has no German {element}: {texts}"


def test_translations_are_installed(installed):
    destdir, _ = installed
    catalogue = find(destdir, "marina.mo")
    assert catalogue.endswith(os.path.join("de", "LC_MESSAGES", "marina.mo"))
    if not os.path.exists(os.path.join(BUILD_DIR, "gui", "marina-console")):
        return  # no GUI, no .desktop file
    desktop = open(find(destdir, "org.marinavm.Console.desktop")).read()
    assert "Name[de]=Marina-Konsole" in desktop


def test_the_manager_starts_at_login(installed):
    """An XDG autostart entry runs the manager without a window, to notify."""
    destdir, _ = installed
    if not os.path.exists(os.path.join(BUILD_DIR, "gui", "marina")):
        return  # no GUI
    path = find(destdir, "org.marinavm.Manager-autostart.desktop")
    assert path.endswith(os.path.join("xdg", "autostart", "org.marinavm.Manager-autostart.desktop"))
    entry = open(path).read()
    assert "Exec=marina --background" in entry
    assert "Name[de]=" in entry
