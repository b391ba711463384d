"""The Deploy Svc API's bearer tokens: the file ``api.tokensFile``, ``NAME TOKEN`` a line.

The file holds credentials, so it is refused when its group or others may read or write it, and
that is checked each time it is read. It is read once when the daemon starts (a bad file is a
config error then: exit 2, the line named) and again whenever it changes, so a token is rotated
without a restart; a change that makes the file bad keeps the tokens read before, and the log
says why. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import logging
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from syncd.errors import ConfigError, SpecProblem, SyncdError

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16
# Group or others may read, write or run it: a file holding credentials must be its owner's alone.
_SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO
_WHERE = "api.tokensFile in the daemon's config names it"


@dataclass(frozen=True)
class ApiToken:
    name: str
    token: bytes = field(repr=False)


class TokensUnavailable(SyncdError):
    """No usable tokens file has been read yet: the API cannot tell who is calling."""

    retryable = True


def _problem(file: str, line: int, message: str) -> SpecProblem:
    return SpecProblem(file, line, 1, "$", message)


def parse_tokens(text: str, file: str) -> tuple[ApiToken, ...]:
    """``NAME TOKEN`` a line; ``#`` starts a comment; blank lines are skipped. Raises ConfigError
    naming every bad line (the token itself is never echoed)."""
    tokens: list[ApiToken] = []
    names: set[str] = set()
    problems: list[SpecProblem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            problems.append(
                _problem(file, number, f"expected NAME TOKEN ({len(parts)} field(s) found)")
            )
            continue
        name, token = parts
        if len(token) < MIN_TOKEN_LENGTH:
            problems.append(
                _problem(
                    file,
                    number,
                    f"the token of {name} is shorter than {MIN_TOKEN_LENGTH} characters",
                )
            )
        elif name in names:
            problems.append(_problem(file, number, f"{name} is named twice"))
        else:
            names.add(name)
            tokens.append(ApiToken(name, token.encode()))
    if problems:
        raise ConfigError(
            problems,
            hint="one token a line: a name (the commit author) and a token of at least "
            f"{MIN_TOKEN_LENGTH} characters, space-separated; make one with `openssl rand -hex 32`",
        )
    return tuple(tokens)


def load_tokens(path: Path) -> tuple[ApiToken, ...]:
    """Read and parse the tokens file. Raises ConfigError when it cannot be read, when its
    group or others may access it, or when a line is bad."""
    file = str(path)
    try:
        mode = os.stat(path).st_mode
        if mode & _SHARED_BITS:
            raise ConfigError(
                [
                    _problem(
                        file,
                        1,
                        f"the API tokens file is open to its group or others (mode "
                        f"{stat.S_IMODE(mode):03o}): refused, it holds credentials",
                    )
                ],
                hint=f"chmod 600 {path}",
            )
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise ConfigError(
            [_problem(file, 1, f"cannot read the API tokens file: {reason}")], hint=_WHERE
        ) from exc
    return parse_tokens(text, file)


def authenticate(tokens: tuple[ApiToken, ...], authorization: str | None) -> str | None:
    """The NAME of the token in an ``Authorization: Bearer TOKEN`` header, or None.

    Every token is compared (constant time each, no early exit), so the time taken does not tell
    which token, or how much of one, matched."""
    if not authorization:
        return None
    scheme, _, presented = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return None
    candidate = presented.strip().encode()
    found: str | None = None
    for token in tokens:
        if hmac.compare_digest(token.token, candidate):
            found = token.name
    return found


# What tells a change of the file: a chmod changes the mode (and the ctime), an edit the rest.
_Stamp = tuple[int, int, int, int, int]


def _stamp_of(info: os.stat_result) -> _Stamp:
    return (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino, info.st_mode)


class TokenStore:
    """The tokens file, read again when it changes; a bad change keeps the last good tokens.

    ``load()`` reads it now and raises ConfigError (the daemon's start); ``tokens()`` is what a
    request asks, and raises TokensUnavailable only when no good file was ever read.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp: _Stamp | None = None
        self._tokens: tuple[ApiToken, ...] | None = None
        self._refusal: str | None = None  # why the current file is not used (logged once)
        self._lock = threading.Lock()

    def load(self) -> tuple[ApiToken, ...]:
        """Read the file now (raises ConfigError when it is bad) and keep its tokens."""
        if self.path is None:
            return ()
        with self._lock:
            stamp = self._current_stamp()
            self._tokens = load_tokens(self.path)
            self._stamp = stamp
            self._refusal = None
            if not self._tokens:
                log.warning("the API tokens file %s holds no token: every call gets 401", self.path)
            return self._tokens

    def tokens(self) -> tuple[ApiToken, ...]:
        """The tokens in force: the file's, read again when it changed since the last read."""
        if self.path is None:
            return ()
        with self._lock:
            stamp = self._current_stamp()
            if stamp is None or stamp != self._stamp:
                self._reread(stamp)
            if self._tokens is None:
                raise TokensUnavailable(
                    f"the daemon has no usable API tokens: {self._refusal}",
                    hint=f"fix {self.path}; it is read again as soon as it changes",
                )
            return self._tokens

    def _current_stamp(self) -> _Stamp | None:
        assert self.path is not None
        try:
            return _stamp_of(os.stat(self.path))
        except OSError:
            return None  # gone or unreadable: load_tokens says which

    def _reread(self, stamp: _Stamp | None) -> None:
        assert self.path is not None
        try:
            self._tokens = load_tokens(self.path)
        except ConfigError as exc:
            refusal = "; ".join(str(problem) for problem in exc.problems)
            if refusal != self._refusal:
                kept = "keeping the tokens read before" if self._tokens is not None else "no tokens"
                log.error("API tokens file refused (%s): %s", kept, refusal)
            self._refusal = refusal
            if stamp is None:
                return  # a missing file: look again at the next request
        else:
            if self._refusal is not None:
                log.info("API tokens file %s read again: %d token(s)", self.path, len(self._tokens))
            self._refusal = None
        self._stamp = stamp
