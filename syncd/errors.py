"""The one exception tree of syncd.

Every error a user can meet is a SyncdError with a message that says what went wrong and, where
one exists, a hint that says what to do. ``retryable`` separates temporary causes (a node that is
down, a Git remote that times out) from permanent ones (an invalid file, an image that fails to
build): that is exactly the Error/Failed distinction of a deployment's status.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


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
        return asdict(self)


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
    """A node's Docker engine refused or failed an operation (permanent until something changes:
    the spec, the node's YAML, the engine). Subclasses name the causes callers act on."""


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


class TlsHandshakeFailed(NodeError):
    """A tcp+TLS node's certificates do not match the engine's: fixed in the node's YAML, not a
    node that is down."""


class NameConflict(NodeError):
    """The engine already has a container of that name (HTTP 409 on create)."""

    def __init__(self, node_id: str, name: str, engine_message: str) -> None:
        super().__init__(
            f"node {node_id}: creating container {name} failed: {engine_message}",
            hint="a leftover of an interrupted pass; the next plan removes it",
        )
        self.node_id = node_id
        self.name = name


class ContainerNotFound(NodeError):
    """The container is gone (HTTP 404): removed by hand or by another pass."""

    def __init__(self, node_id: str, container_id: str, action: str) -> None:
        super().__init__(f"node {node_id}: container {container_id[:12]} is gone: cannot {action}")
        self.node_id = node_id
        self.container_id = container_id


class BuildError(NodeError):
    """An image could not be made present on a node: a build context that cannot be used, or one
    of the two causes below with the engine's own words."""


class ImageBuildFailed(BuildError):
    """The engine's build stopped with an error; ``reason`` is its own error line."""

    def __init__(
        self, image: str, node_id: str, reason: str, *, context: str, recent_output: str = ""
    ) -> None:
        super().__init__(
            f"building {image} from {context!r} on node {node_id} failed: {reason}",
            hint=f"last build output:\n{recent_output}" if recent_output else None,
        )
        self.image = image
        self.node_id = node_id
        self.reason = reason
        self.context = context

    @property
    def summary(self) -> str:
        """One sentence for a deployment's status: the engine's words first."""
        return f"build failed: {self.reason} (image {self.image} on {self.node_id})"


class ImagePullFailed(BuildError):
    """An image the node does not have could not be pulled; ``reason`` is the engine's."""

    def __init__(self, image: str, node_id: str, reason: str) -> None:
        super().__init__(
            f"image {image} is not present on node {node_id} and could not be pulled: {reason}",
            hint="check the image name, the registry's reachability from the node, or build it "
            "from a repository definition",
        )
        self.image = image
        self.node_id = node_id
        self.reason = reason


class PlanError(SyncdError):
    """The planner refused to produce a plan (e.g. the mass-delete guard)."""


class ApplyError(SyncdError):
    """A plan could not be carried out; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = False, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retryable = retryable


class InstanceFailed(ApplyError):
    """A new instance did not become available (exited, crash-looped, never healthy, could not
    be created); the message is the readable reason. Temporary: the same version may come up on
    a later try (a port freed, a dependency back)."""

    retryable = True

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=type(self).retryable)


class InstanceMisconfigured(InstanceFailed):
    """A new instance cannot be made at all from this version (a secret that cannot be read):
    permanent until the repository or the secret store changes."""

    retryable = False


class RolloutFailed(ApplyError):
    """New instances of a deployment failed and this apply took them away again; ``reverted``
    says whether the old version is back at full strength (False: ``reason`` says what is not).
    Retryable exactly when the instance failure that caused it is."""

    def __init__(self, deployment_id: str, cause: InstanceFailed, *, problems: str = "") -> None:
        reason = f"{cause.message}; revert incomplete: {problems}" if problems else cause.message
        super().__init__(reason, retryable=cause.retryable)
        self.deployment_id = deployment_id
        self.cause = cause
        self.reason = reason
        self.reverted = not problems


class SecretError(SyncdError):
    """A secret could not be read (missing, unsafe permissions, cannot be decrypted)."""


class LockHeld(SyncdError):
    """Another syncd daemon holds the state directory's lock."""

    exit_code = 3


class SwarmError(NodeError):
    """A Swarm manager refused a service operation; ``swarm_id`` names the cluster."""

    def __init__(self, swarm_id: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"swarm {swarm_id}: {message}", hint=hint)
        self.swarm_id = swarm_id


class SwarmNotActive(SwarmError):
    """The engine answered but is not a Swarm manager (not initialised, or a worker): fix the
    node file's managers, or ``docker swarm init`` there."""


class SwarmServiceForeign(SwarmError):
    """A service of that name exists without syncd's managed label or with another owner: it
    is never updated or removed; rename the deployment or remove the service by hand."""


class ProxyError(NodeError):
    """A node's proxy could not be made to serve its routes (any cause without its own type)."""

    def __init__(self, node_id: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"node {node_id}: proxy: {reason}", hint=hint)
        self.node_id = node_id
        self.reason = reason


class ProxyImageMissing(ProxyError):
    """The node's proxy image is not on the node and could not be pulled. A condition of the
    node, not of the version: retried at the capped backoff until someone loads the image."""

    retryable = True

    def __init__(self, node_id: str, image: str, reason: str = "") -> None:
        detail = f": {reason}" if reason else ""
        super().__init__(
            node_id,
            f"image {image} is not present and could not be pulled{detail}",
            hint=f"load or pull {image} on node {node_id}, or set proxy.image in the node's YAML",
        )
        self.image = image


class ProxyPortTaken(ProxyError):
    """A route's stable address is already held on the node by something that is not its proxy.
    A condition of the node, not of the version: retried at the capped backoff until it is free."""

    retryable = True

    def __init__(self, node_id: str, bind: str, reason: str = "") -> None:
        detail = f" ({reason})" if reason else ""
        super().__init__(
            node_id,
            f"cannot listen on {bind}: the address is already in use{detail}",
            hint=f"free {bind} on node {node_id}, or give the route another port or the node "
            "another proxy.address",
        )
        self.bind = bind


class CanaryFailed(InstanceFailed):
    """A canary answered too many of its requests with 5xx (as the node proxies counted them):
    the version is wrong, not unlucky, so it is not retried until the commit changes."""

    retryable = False


class RemoteSourceError(SourceError):
    """A build's remote repository (a definition's ``repository.url``) could not be read:
    unreachable, refused, or a host key that does not match. ``url`` carries no credentials;
    ``reason`` is git's own line. Temporary: the same commit may build once the remote answers."""

    def __init__(
        self,
        url: str,
        version: str | None,
        reason: str,
        *,
        hint: str | None = None,
        where: str | None = None,
    ) -> None:
        at = f" at version {version!r}" if version else ""
        prefix = f"{where}: " if where else ""  # the definition's FILE:LINE, once known
        super().__init__(f"{prefix}cannot fetch {url}{at}: {reason}", hint=hint)
        self.where = where
        self.url = url
        self.version = version
        self.reason = reason


class RemoteVersionNotFound(RemoteSourceError):
    """The remote answered but has no tag, branch or commit named ``version``: refused until a
    commit changes the definition."""

    retryable = False


class ProxyRouteConflict(ProxyError):
    """Two routes of one node's proxy want the same stable address: another deployment still
    serves there (a commit handed its port to this one and it has not moved away yet).
    Temporary: the next pass finds the port free once the other one left it."""

    retryable = True

    def __init__(self, node_id: str, bind: str, routes: tuple[str, ...]) -> None:
        super().__init__(
            node_id,
            f"{bind} is wanted by routes {' and '.join(routes)}: one stable port serves one "
            "deployment",
            hint="retried by the next pass once the other deployment left the port; if it "
            "keeps it, give one of them another host port",
        )
        self.bind = bind
        self.routes = routes
