"""The one exception tree of syncd.

Every error a user can meet is a SyncdError with a message that says what went wrong and, where
one exists, a hint that says what to do. ``retryable`` separates temporary causes (a node that is
down, a Git remote that times out) from permanent ones (an invalid file, an image that fails to
build): that is exactly the Error/Failed distinction of a deployment's status.
"""

from __future__ import annotations

from dataclasses import dataclass


class SyncdError(Exception):
    """Base of every error syncd raises on purpose."""

    #: process exit code when this error reaches the CLI boundary
    exit_code: int = 1
    #: a temporary cause: the same action may succeed later without a change in Git
    retryable: bool = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(SyncdError):
    """The command line or a config file asks for something impossible."""

    exit_code = 2


@dataclass(frozen=True)
class SpecProblem:
    """One problem in one file of the repository, located to the line."""

    file: str
    line: int
    column: int
    path: str  # JSON path of the offending value, e.g. "$.strategy.maxSurge"
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.path}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


class SpecError(SyncdError):
    """The repository (or a config file) is invalid; carries every problem found in one run."""

    def __init__(self, problems: list[SpecProblem], *, hint: str | None = None) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        first = str(self.problems[0]) if self.problems else "invalid input"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(f"{first}{more}", hint=hint)


class ConfigError(SpecError):
    """The daemon's config file is invalid: a usage error (exit 2), so a supervisor such as
    systemd stops restarting a daemon that cannot start until the file is fixed."""

    exit_code = 2


class SourceError(SyncdError):
    """Git could not give us the revision we asked for (fetch, checkout, signature)."""

    retryable = True


class SignatureError(SourceError):
    """The head commit is not signed by an allowed key: refused until a new commit arrives."""

    retryable = False


class NodeError(SyncdError):
    """A node's Docker engine refused or failed an operation."""


class NodeUnreachable(NodeError):
    """A node's engine did not answer within the timeout, or refused the connection."""

    retryable = True

    def __init__(self, node_id: str, reason: str) -> None:
        super().__init__(
            f"node {node_id} is unreachable: {reason}",
            hint="check that the engine runs and that the node's url, TLS files or SSH key are right",
        )
        self.node_id = node_id
        self.reason = reason


class HostKeyError(NodeError):
    """An ssh:// node presented an unknown or changed host key: never accepted silently."""


class BuildError(NodeError):
    """An image could not be built or pulled; the engine's own words are in the message."""


class PlanError(SyncdError):
    """The planner refused to produce a plan (e.g. the mass-delete guard)."""


class ApplyError(SyncdError):
    """A plan could not be carried out; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = False, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retryable = retryable


class RolloutFailed(ApplyError):
    """New instances never became healthy; the old version was restored."""


class SecretError(SyncdError):
    """A secret could not be read (missing, unsafe permissions, cannot be decrypted)."""


class LockHeld(SyncdError):
    """Another syncd daemon holds the state directory's lock."""

    exit_code = 3
