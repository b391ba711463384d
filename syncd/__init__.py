"""syncd: a declarative GitOps sync daemon for containers on plain Docker hosts."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # The version is looked up when asked for: importlib.metadata costs ~40 ms of every
    # process's start (a parse helper's, a CLI call's), and most never ask.
    if name != "__version__":
        raise AttributeError(f"module 'syncd' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("syncd")
    except PackageNotFoundError:  # running from a source tree without an install
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found
