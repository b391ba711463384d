"""scripts/install-control-host.sh, run into a temporary root, and the systemd unit it installs.

The install is real (a virtualenv made with pip from this checkout, a system user created with
useradd in the temporary root's own passwd files); only the root differs from a host's /.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from toolingkit import PROJECT_ROOT, SYNCD

SCRIPT = PROJECT_ROOT / "scripts" / "install-control-host.sh"
UNIT = PROJECT_ROOT / "systemd" / "syncd.service"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the install creates a user: run as root")
needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is missing: scripts/install-system-deps.sh installs it",
)


def install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def seed_accounts(root: Path) -> None:
    """A root with its own account files, as an image or chroot has (docker group included)."""
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\ndocker:x:105:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\ndocker:!::\n")
    for name in ("shadow", "gshadow"):
        (etc / name).chmod(0o640)


def account(root: Path, file: str, name: str) -> list[str] | None:
    for line in (root / "etc" / file).read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields
    return None


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("control-host")
    seed_accounts(root)
    result = install(root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@needs_root
@pytest.mark.slow
def test_the_install_lays_out_what_the_unit_expects(installed):
    root = installed
    link = root / "usr/local/bin/syncd"
    assert link.is_symlink() and os.readlink(link) == "/opt/syncd/bin/syncd"
    version = subprocess.run(
        [str(root / "opt/syncd/bin/syncd"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("syncd, version")
    unit = root / "etc/systemd/system/syncd.service"
    assert unit.read_text() == UNIT.read_text() and mode(unit) == 0o644
    assert (root / "usr/share/doc/syncd/daemon.md").is_file()  # the unit's Documentation=


@needs_root
@pytest.mark.slow
def test_the_syncd_user_and_group_exist_and_own_what_they_should(installed):
    root = installed
    user = account(root, "passwd", "syncd")
    group = account(root, "group", "syncd")
    assert user is not None and group is not None
    uid, gid = int(user[2]), int(group[2])
    assert user[3] == group[2]
    assert (user[5], user[6]) == ("/var/lib/syncd", "/usr/sbin/nologin")
    assert uid < 1000  # a system account
    assert "syncd" in account(root, "group", "docker")[3].split(",")
    expected = {
        "etc/syncd": (0o750, 0, gid),
        "etc/syncd/config.yaml": (0o640, 0, gid),
        "etc/syncd/config.example.yaml": (0o640, 0, gid),
        "etc/syncd/secrets": (0o700, uid, gid),
        "var/lib/syncd": (0o750, uid, gid),
    }
    for relative, (want_mode, want_uid, want_gid) in expected.items():
        info = (root / relative).stat()
        assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (
            want_mode,
            want_uid,
            want_gid,
        ), relative


@needs_root
@needs_systemd_analyze
@pytest.mark.slow
def test_the_installed_unit_verifies_with_the_installed_binary(installed, tmp_path):
    # systemd-analyze checks that ExecStart exists on this host: point it at the installed one.
    unit = (installed / "etc/systemd/system/syncd.service").read_text()
    copy = tmp_path / "syncd.service"
    copy.write_text(unit.replace("/usr/local/bin/syncd", str(installed / "opt/syncd/bin/syncd")))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stderr) == (0, "")


@needs_root
@pytest.mark.slow
def test_running_it_again_upgrades_in_place_and_keeps_the_config(installed):
    config = installed / "etc/syncd/config.yaml"
    config.write_text(config.read_text() + "# edited by the operator\n")
    result = install(installed)
    assert result.returncode == 0, result.stderr
    assert config.read_text().endswith("# edited by the operator\n")
    users = [line for line in (installed / "etc/passwd").read_text().splitlines()]
    assert sum(line.startswith("syncd:") for line in users) == 1  # not created twice


@needs_root
@pytest.mark.slow
def test_uninstall_keeps_config_and_state_and_purge_removes_them(installed):
    kept = install(installed, "--uninstall")
    assert kept.returncode == 0, kept.stderr
    for gone in ("opt/syncd", "usr/local/bin/syncd", "etc/systemd/system/syncd.service"):
        assert not (installed / gone).exists() and not (installed / gone).is_symlink(), gone
    assert (installed / "etc/syncd/config.yaml").is_file()
    assert (installed / "var/lib/syncd").is_dir()
    assert account(installed, "passwd", "syncd") is not None
    assert "--purge removes them" in kept.stdout

    purged = install(installed, "--uninstall", "--purge")
    assert purged.returncode == 0, purged.stderr
    assert not (installed / "etc/syncd").exists() and not (installed / "var/lib/syncd").exists()
    assert account(installed, "passwd", "syncd") is None
    assert account(installed, "group", "syncd") is None


@needs_systemd_analyze
def test_the_shipped_unit_verifies(tmp_path):
    """The unit in the checkout, with ExecStart at this venv's syncd (what the install links)."""
    copy = tmp_path / "syncd.service"
    copy.write_text(UNIT.read_text().replace("/usr/local/bin/syncd", str(SYNCD)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_the_unit_runs_what_the_install_links():
    assert (
        "ExecStart=/usr/local/bin/syncd daemon --config /etc/syncd/config.yaml" in UNIT.read_text()
    )
    script = SCRIPT.read_text()
    assert "ln -sfn /opt/syncd/bin/syncd" in script and 'link="$root/usr/local/bin/syncd"' in script


@pytest.mark.parametrize(
    ("args", "words"),
    [(["--bogus"], "unknown argument '--bogus'"), (["--purge"], "--purge goes with --uninstall")],
)
def test_bad_arguments_exit_2_and_say_what_to_fix(tmp_path, args, words):
    result = install(tmp_path, *args)
    assert result.returncode == 2
    assert words in result.stderr


def test_help_describes_the_layout():
    result = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "/usr/local/bin/syncd" in result.stdout and "--uninstall" in result.stdout
