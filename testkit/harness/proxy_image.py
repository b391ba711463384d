"""The proxy image the tests run, built offline: Debian's haproxy binary, bash (the proxy driver
reads HAProxy's stats socket through bash's /dev/tcp, as in the upstream Debian-based image) and
every library ``ldd`` names, laid out at the paths the dynamic loader looks in."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

PROXY_IMAGE = "syncd-test/haproxy:latest"
_LDD_PATH = re.compile(r"(/\S+) \(0x[0-9a-f]+\)$")


def _binaries() -> list[Path]:
    found = []
    for tool in ("haproxy", "bash"):
        location = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
        if location is None:
            raise RuntimeError(f"{tool} is not installed: run scripts/install-system-deps.sh")
        found.append(Path(location))
    return found


def _libraries(binary: Path) -> set[Path]:
    listing = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True)
    return {
        Path(match.group(1))
        for line in listing.stdout.splitlines()
        if (match := _LDD_PATH.search(line.strip()))
    }


def proxy_image_tar() -> bytes:
    """A rootfs with /usr/sbin/haproxy, /bin/bash, their libraries, /tmp and the config dir."""
    binaries = _binaries()
    libraries = set().union(*(_libraries(binary) for binary in binaries))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory, mode in (
            ("tmp", 0o1777),
            ("usr", 0o755),
            ("usr/local", 0o755),
            ("usr/local/etc", 0o755),
            ("usr/local/etc/haproxy", 0o755),
            ("var", 0o755),
            ("var/lib", 0o755),
            ("var/lib/haproxy", 0o755),
        ):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        tar.add(str(binaries[0].resolve()), arcname="usr/sbin/haproxy")
        tar.add(str(binaries[1].resolve()), arcname="bin/bash")
        for library in sorted(libraries):
            # the loader asks for the name ldd printed; store the file's content under it
            tar.add(str(library.resolve()), arcname=str(library).lstrip("/"))
    return buffer.getvalue()
