"""A second process that reads and builds a big load's YAML files while this one converts them.

A cold load of a big repository (the daemon's first pass, ``syncd validate`` or ``syncd plan``
in a fresh process, 12,000 files) spends about half its time in reading files and in PyYAML's
C parser, which holds the GIL: a thread would not run beside it, a second process does. The
load hands files out from the back of its list in chunks and parses from the front itself; what
comes back is each file's text and its documents as plain data (``loading.quick_documents``, by
marshal), so this process makes the very ``Document`` objects ``load_yaml`` would have made and
converts them. The helper takes only what that quick path builds; a file it cannot read, decode,
parse or build the quick way comes back as None and the load reads it again itself, so every
problem is found and reported by the one in-process path. A helper that dies, stalls or answers
garbage costs time, never a file: what it has not answered is parsed here.

Started per load, and only for one with at least ``HELPER_FROM_FILES`` files to parse on a
machine with a second core (its start, ~0.1 s of Python imports, runs while this process
parses); ``SYNCD_PARSE_HELPER=off`` turns it off (a cgroup CPU quota of one core, say).
"""

from __future__ import annotations

import marshal
import os
import select
import subprocess
import sys
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from syncd.spec.file_source import read_from_directory
from syncd.spec.loading import PreparedFile, decode_text, quick_documents

HELPER_FROM_FILES = 2_000  # below this, the helper's start costs more than it saves
CHUNK_FILES = 48  # an answer (15-28 KiB here) fits a pipe's 64 KiB: the helper never waits
CHUNKS_IN_FLIGHT = 2  # one being parsed, one waiting: the helper is never idle
STALL_S = 30.0  # no answer for this long: the helper is stopped, the load parses the rest
_HEADER = 4  # bytes of a frame's length, big-endian


def _warn(message: str, *arguments: object) -> None:
    # logging is imported when there is something to say: the helper process never needs it,
    # and its import is a tenth of the helper's start
    import logging

    logging.getLogger(__name__).warning(message, *arguments)


def helper_wanted(files_to_parse: int) -> bool:
    """Whether a load with this many files to parse starts a helper."""
    if os.environ.get("SYNCD_PARSE_HELPER", "").lower() in ("off", "0", "no", "false"):
        return False
    return files_to_parse >= HELPER_FROM_FILES and _usable_cores() > 1 and bool(sys.executable)


def looks_big(root: Path) -> bool:
    """Whether the kind folders under ``root`` hold at least ``HELPER_FROM_FILES`` entries at
    their top level: a probe (a few milliseconds at 10,000 files) that lets a cold load start
    its helper before it walks the tree and asks Git about it."""
    count = 0
    for folder in ("deployments", "definitions", "nodes"):
        try:
            with os.scandir(root / folder) as entries:
                for _ in entries:
                    count += 1
                    if count >= HELPER_FROM_FILES:
                        return True
        except OSError:
            continue
    return False


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class ParseHelper:
    """One helper process for one load: ``spawn`` it, ``hand`` it the files, ``claim`` a file
    before parsing it here, take what has ``arrived`` as the load goes and the ``rest`` at the
    end; ``close`` it whatever happened."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self._waiting: deque[str] = deque()  # not handed out yet, in the load's order
        self._handed: set[str] = set()  # handed out and not answered
        self._chunks_out = 0
        self._poll = select.poll()
        assert process.stdout is not None and process.stdin is not None
        self._answers = process.stdout.fileno()
        self._requests = process.stdin.fileno()
        self._poll.register(self._answers, select.POLLIN)
        self._alive = True
        self.files_answered = 0  # built by the helper (the rest were parsed here)

    @classmethod
    def spawn(
        cls, root: Path, limit: int, *, command: Sequence[str] | None = None
    ) -> ParseHelper | None:
        """The helper process, started before the load knows its files (its imports then run
        while the load asks Git about the tree); ``hand`` gives it the files."""
        package_parent = str(Path(__file__).resolve().parents[2])
        environment = {
            **os.environ,
            # the helper imports the very syncd this process runs (a source tree, a bench's
            # baseline), not whatever the interpreter would find first
            "PYTHONPATH": os.pathsep.join(
                part for part in (package_parent, os.environ.get("PYTHONPATH")) if part
            ),
        }
        try:
            process = subprocess.Popen(
                list(command or [sys.executable, "-m", __name__, str(root), str(limit)]),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=environment,
                close_fds=True,
            )
        except OSError as exc:
            _warn("parse helper did not start (%s): this load parses alone", exc)
            return None
        return cls(process)

    def hand(self, relatives: Sequence[str]) -> None:
        """The files to share (under the root, in kind folders, in the load's order)."""
        self._waiting.extend(relatives)
        for _ in range(CHUNKS_IN_FLIGHT):
            self._hand_out()

    def claim(self, relative: str) -> bool:
        """True: parse ``relative`` here (it was not handed out); False: the helper has it."""
        if relative in self._handed:
            return False
        if self._waiting and self._waiting[0] == relative:
            self._waiting.popleft()
        return True

    def arrived(self) -> dict[str, PreparedFile | None]:
        """The answers that have come in, without waiting (None: parse that file here)."""
        answers: dict[str, PreparedFile | None] = {}
        while self._alive and self._chunks_out and self._poll.poll(0):
            answers.update(self._take_answer())
        return answers

    def rest(self) -> dict[str, PreparedFile | None]:
        """Every answer still out, waiting for them; what a dead or stalled helper never answers
        is missing, and the load parses it here."""
        answers: dict[str, PreparedFile | None] = {}
        while self._alive and self._chunks_out:
            if not self._poll.poll(STALL_S * 1000):
                _warn("parse helper gave no answer in %.0f s: stopped", STALL_S)
                self._stop()
                break
            answers.update(self._take_answer())
        return answers

    def _take_answer(self) -> dict[str, PreparedFile | None]:
        try:
            length = int.from_bytes(self._read_exactly(_HEADER), "big")
            answered: list[tuple[str, PreparedFile | None]] = marshal.loads(
                self._read_exactly(length)
            )
            answers = {relative: prepared for relative, prepared in answered}
        except (OSError, EOFError, ValueError, TypeError) as exc:
            _warn("parse helper stopped (%s): this load parses the rest", exc)
            self._stop()
            return {}
        self._chunks_out -= 1
        self._handed.difference_update(answers)
        self.files_answered += sum(prepared is not None for prepared in answers.values())
        self._hand_out()
        return answers

    def _read_exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            if not self._poll.poll(STALL_S * 1000):  # stopped half-way through a frame
                raise TimeoutError(f"no more of an answer in {STALL_S:.0f} s")
            more = os.read(self._answers, count - len(data))
            if not more:
                raise EOFError(f"exit code {self._process.poll()}")
            data += more
        return data

    def _hand_out(self) -> None:
        """Send the next chunk from the back of the list (the load parses from the front)."""
        if not self._alive or len(self._waiting) < 2:
            return  # the last file: the load reaches it as soon as a chunk comes back
        chunk = [self._waiting.pop() for _ in range(min(CHUNK_FILES, len(self._waiting) // 2))]
        request = marshal.dumps(chunk)
        try:
            os.write(self._requests, len(request).to_bytes(_HEADER, "big") + request)
        except OSError as exc:
            _warn("parse helper stopped (%s): this load parses the rest", exc)
            self._waiting.extend(reversed(chunk))
            self._stop()
            return
        self._handed.update(chunk)
        self._chunks_out += 1

    def _stop(self) -> None:
        self._alive = False
        self._process.kill()

    def close(self) -> None:
        """End the helper and reap it (again: nothing). Killed, not asked to exit: it holds
        nothing but the answers it was asked for, and an interpreter's exit takes tens of
        milliseconds that a wait would add to the load."""
        if self._process.returncode is not None:
            return
        self._stop()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()


# --------------------------------------------------------------------------- the helper's side


def prepare(root: Path, relative: str, limit: int) -> PreparedFile | None:
    """One file read and built the quick way; None for anything the load must see for itself."""
    try:
        data = read_from_directory(root, relative, limit)
        if not isinstance(data, bytes) or len(data) > limit:
            return None
        text = decode_text(data)
        if text is None:
            return None
        documents = quick_documents(text)
    except Exception:  # whatever it is, the load meets it again and reports it
        return None
    return None if documents is None else (text, documents)


def _answer(chunk: list[str], root: Path, limit: int) -> bytes:
    answers: list[tuple[str, Any]] = [
        (relative, prepare(root, relative, limit)) for relative in chunk
    ]
    try:
        return marshal.dumps(answers)
    except ValueError:  # a value marshal does not carry (a date): that file is parsed there
        kept = []
        for relative, prepared in answers:
            try:
                marshal.dumps(prepared)
            except ValueError:
                prepared = None
            kept.append((relative, prepared))
        return marshal.dumps(kept)


def _read_frame(stream: Any) -> bytes | None:
    header = stream.read(_HEADER)
    if len(header) < _HEADER:
        return None  # the load closed its end: done
    frame: bytes = stream.read(int.from_bytes(header, "big"))
    return frame


def main(arguments: Sequence[str]) -> int:
    """The helper process: answer chunks of relative paths under ROOT until stdin closes."""
    root, limit = Path(arguments[0]), int(arguments[1])
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    while (frame := _read_frame(requests)) is not None:
        answer = _answer(marshal.loads(frame), root, limit)
        answers.write(len(answer).to_bytes(_HEADER, "big") + answer)
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
