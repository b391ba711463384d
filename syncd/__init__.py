"""syncd: a declarative GitOps sync daemon for containers on plain Docker hosts."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("syncd")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
