"""The one image every test container runs: a busybox rootfs imported into each engine, so no
test needs a registry."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

BASE_IMAGE = "syncd-test/busybox:latest"
# fmt: off
BUSYBOX_APPLETS = (
    "sh", "httpd", "wget", "sleep", "echo", "cat", "ls", "mkdir", "rm", "touch", "kill", "nc",
    "true", "false", "env", "ps", "top", "yes", "dd", "head", "tail", "grep",
)
# fmt: on


def base_image_tar() -> bytes:
    """A busybox rootfs: /bin/busybox, the applets tests use, an empty /tmp and a /www page."""
    busybox = Path(shutil.which("busybox") or "/bin/busybox")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory, mode in (("bin", 0o755), ("tmp", 0o1777), ("www", 0o755)):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        tar.add(str(busybox), arcname="bin/busybox")
        for applet in BUSYBOX_APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(info)
        page = b"syncd-test\n"
        info = tarfile.TarInfo("www/index.html")
        info.size, info.mode = len(page), 0o644
        tar.addfile(info, io.BytesIO(page))
    return buffer.getvalue()
