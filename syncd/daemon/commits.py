"""Which commit the daemon applies: the source (fetch and reset to the branch head), each new
head evaluated once (its signature, its files written under stateDir/trees/<sha>, the sync
layer's load step), the last good commit, and why the head was refused when it was."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import git

from syncd.daemon.config import DaemonSettings
from syncd.daemon.logs import RepeatedErrors
from syncd.daemon.persist import APPLIED_FILE, read_state, write_state
from syncd.errors import (
    RemoteSourceError,
    SignatureError,
    SourceError,
    SpecError,
    SpecProblem,
    SyncdError,
)
from syncd.source.gitcommand import run_git
from syncd.source.gitrepo import GitSource, is_ssh_url
from syncd.source.revisions import checkout_revision
from syncd.source.ssh_sharing import SshSharing
from syncd.spec.cache import ParseCache, blob_ids_of_revision
from syncd.spec.desired import DesiredState
from syncd.spec.models import Deployment
from syncd.sync import LoadedRevision, Revision, Sync

log = logging.getLogger("syncd.daemon")

LOGGED_PROBLEMS = 20  # problems of a refused commit written to the log


def replica_problems(deployments: Iterable[Deployment], max_replicas: int) -> list[SpecProblem]:
    """Deployments asking for more replicas (or autoScaling.maxReplicas) than the daemon's
    ``maxReplicas``: a typo such as ``replicas: 100000`` is refused before anything plans it."""
    problems: list[SpecProblem] = []
    for deployment in deployments:
        asked = [("replicas", deployment.replicas)]
        if deployment.auto_scaling is not None:
            asked.append(("autoScaling.maxReplicas", deployment.auto_scaling.max_replicas))
        source = deployment.source
        for field_path, count in asked:
            if count > max_replicas:
                problems.append(
                    SpecProblem(
                        source.file if source else f"deployment {deployment.id}",
                        source.line if source else 1,
                        source.column if source else 1,
                        f"$.{field_path}",
                        f"{field_path} {count} is above the daemon's maxReplicas "
                        f"({max_replicas}); lower it, or raise maxReplicas in the daemon config "
                        "(at most 10000)",
                    )
                )
    return problems


@dataclass(frozen=True)
class GoodCommit:
    """The last commit that validated: what the daemon applies until a newer good one. Its
    files are written once under stateDir/trees/<sha>."""

    loaded: LoadedRevision

    @property
    def sha(self) -> str:
        return self.loaded.revision.commit

    @property
    def root(self) -> Path:
        return self.loaded.revision.root

    @property
    def desired(self) -> DesiredState:
        return self.loaded.desired


@dataclass
class SourceState:
    head: str | None = None  # the branch head last synced
    error: str | None = None  # the last fetch's error, None when it worked
    last_ok: float | None = None  # time of the last successful sync
    failing_since: float | None = None
    refused: dict[str, str] = field(default_factory=dict)  # sha -> why (signature)


#: bounds of how long an idle ssh master stays (a daemon killed with SIGKILL leaves it that long)
SSH_PERSIST_MIN_S = 60
SSH_PERSIST_MAX_S = 900


def ssh_persist_s(poll_interval_s: float) -> int:
    """How long the daemon's ssh master outlives its last fetch: two poll intervals, so polling
    keeps it open for the next webhook, within 1 and 15 minutes."""
    return int(min(max(2 * poll_interval_s, SSH_PERSIST_MIN_S), SSH_PERSIST_MAX_S))


def _ssh_sharing(settings: DaemonSettings) -> SshSharing | None:
    if not is_ssh_url(settings.repo.url):
        return None
    return SshSharing.for_state_dir(
        settings.state_dir, ssh_persist_s(settings.repo.poll_interval_s)
    )


def make_source(settings: DaemonSettings, ssh_sharing: SshSharing | None = None) -> GitSource:
    return GitSource(
        settings.repo.url,
        settings.repo.branch,
        settings.checkout_dir,
        ssh_key=settings.repo.ssh_key,
        known_hosts=settings.repo.known_hosts,
        ssh_sharing=ssh_sharing,
    )


class Commits:
    """The source, the last good commit and the refused head; touched by the pass thread only.
    ``sync`` is the daemon's pass object: a commit loads through its load step and parse cache.
    """

    def __init__(
        self,
        settings: DaemonSettings,
        sync: Sync,
        parse_cache: ParseCache,
        errors: RepeatedErrors,
    ) -> None:
        self.settings = settings
        self._sync = sync
        self._errors = errors
        self.parse_cache = parse_cache
        # One ssh connection to the Git host across passes; ended in close().
        self.ssh_sharing = _ssh_sharing(settings)
        self.source = make_source(settings, self.ssh_sharing)
        self.state = SourceState()
        self.good: GoodCommit | None = None
        self.invalid: tuple[str, list[SpecProblem]] | None = None  # (sha, problems) of the head
        # the refused head was loaded and its own files are the problem (not a guard's refusal)
        self.head_does_not_load = False
        self.commit_subject = ""
        # The last commit applied, kept across restarts for the rollback guard.
        self._applied_file = settings.state_dir / APPLIED_FILE
        applied = read_state(self._applied_file).get("commit")
        self.last_applied: str | None = applied if isinstance(applied, str) else None

    def reconfigure(self, new: DaemonSettings) -> None:
        """A reloaded config: a new source when the repository settings changed."""
        old, self.settings = self.settings, new
        if _repo_of(new) != _repo_of(old):
            self.ssh_sharing = self.ssh_sharing or _ssh_sharing(new)
            self.source = make_source(new, self.ssh_sharing)

    def close(self) -> None:
        """End the ssh masters the source's fetches left open (the daemon stops)."""
        if self.ssh_sharing is not None:
            self.ssh_sharing.close()

    def new_head(self) -> str | None:
        """The branch head when it is neither applied nor already refused."""
        head = self.state.head
        if head is None or (self.good is not None and head == self.good.sha):
            return None
        if self.invalid is not None and self.invalid[0] == head:
            return None
        return head

    def sync(self) -> None:
        """Fetch the branch; on failure keep everything as it is and say so (once, then at the
        backoff's pace while it keeps failing)."""
        state = self.state
        try:
            head = self.source.sync()
        except SourceError as exc:
            state.error = exc.message
            state.failing_since = state.failing_since or time.time()
            self._errors.error("fetch", f"fetch failed, keeping the running state: {exc.message}")
            return
        if self._errors.clear("fetch") or state.error:
            log.info("source reachable again")
        state.error = None
        state.failing_since = None
        state.last_ok = time.time()
        if head != state.head:
            log.info("branch %s is at %s", self.settings.repo.branch, head[:12])
        state.head = head

    def evaluate(self, sha: str) -> None:
        """Check, load and render commit ``sha``. Invalid: keep the last good commit applied;
        after a restart that is the commit applied before it (stateDir/applied.json), so a
        refused head never leaves a restarted daemon with nothing to reconcile."""
        self._evaluate(sha)
        last = self.last_applied
        refused, does_not_load = self.invalid, self.head_does_not_load
        if (
            self.good is None
            and refused is not None
            and refused[0] == sha
            and last not in (None, sha)
        ):
            assert last is not None
            log.info("keeping %s applied, the commit applied before the restart", last[:12])
            self._evaluate(last)
            self.invalid, self.head_does_not_load = refused, does_not_load

    def _evaluate(self, sha: str) -> None:
        policy = self.settings.repo.signatures
        if policy.required:
            try:
                self.source.verify_signature(sha, policy.allowed_signers_file, policy.gpg_home)
            except SignatureError as exc:
                self._refuse(sha, [SpecProblem("(commit)", 1, 1, "$", exc.message)], "refused")
                return
        rollback = self._rollback(sha)
        if rollback is not None:
            self._refuse(sha, [SpecProblem("(commit)", 1, 1, "$", rollback)], "refused")
            return
        try:
            tree = self._tree(sha)
        except SourceError as exc:
            # Could not write the commit's files (disk full, a damaged checkout): temporary.
            self.state.error = exc.message
            self.state.failing_since = self.state.failing_since or time.time()
            self._errors.error("tree", f"cannot read commit {sha[:12]}: {exc.message}")
            return
        self._errors.clear("tree")
        root = tree / self.settings.repo.path
        self.parse_cache.register_tree(
            root, blob_ids_of_revision(self.settings.checkout_dir, sha, self.settings.repo.path)
        )
        try:
            loaded = self._sync.load(Revision(root, sha))
        except SpecError as exc:
            self._refuse(sha, exc.problems, "invalid")
            return
        except SyncdError as exc:
            if isinstance(exc, RemoteSourceError) and exc.retryable:
                # A remote build's repository did not answer: not the commit's fault, so it is
                # not refused; the next pass loads it again.
                self.state.error = exc.message
                self.state.failing_since = self.state.failing_since or time.time()
                self._errors.error("remote-build", f"cannot load {sha[:12]}: {exc.message}")
                return
            self._refuse(sha, [SpecProblem("(commit)", 1, 1, "$", exc.message)], "invalid")
            return
        self._errors.clear("remote-build")
        too_many = replica_problems(
            (d.deployment for d in loaded.desired.deployments), self.settings.max_replicas
        )
        if too_many:
            self._refuse(sha, too_many, "invalid")
            return
        if self.good is not None:
            log.info("applying commit %s (was %s)", sha[:12], self.good.sha[:12])
        else:
            log.info("applying commit %s", sha[:12])
        self.good = GoodCommit(loaded)
        self.invalid = None
        if self.last_applied != sha:
            self.last_applied = sha
            write_state(self._applied_file, {"commit": sha})
        try:
            self.commit_subject = self.source.commit_info(sha).subject
        except SourceError:
            self.commit_subject = ""

    def _rollback(self, sha: str) -> str | None:
        """Why ``sha`` is refused as not a descendant of the last applied commit, or None."""
        last = self.last_applied
        if last is None or sha == last or self.settings.repo.allow_non_fast_forward:
            return None
        try:
            run_git(self.settings.checkout_dir, ["merge-base", "--is-ancestor", last, sha])
            return None
        except git.GitCommandError as exc:
            # exit 1: not an ancestor; otherwise the old commit is not even in the clone any
            # more (history rewritten): descent cannot be shown either way.
            known = exc.status == 1
        return (
            f"commit {sha[:12]} is not a descendant of {last[:12]}, the last applied commit"
            f"{'' if known else ' (which the branch no longer contains)'}: a force-push or a "
            "reset to an older commit is refused so an old commit cannot be replayed; push a "
            "new commit on top of the applied one, or set repo.allowNonFastForward: true"
        )

    def _refuse(self, sha: str, problems: list[SpecProblem], why: str) -> None:
        self.invalid = (sha, list(problems))
        self.head_does_not_load = why == "invalid"
        keeping = f"; keeping {self.good.sha[:12]} applied" if self.good else ""
        log.error("commit %s is %s, nothing changes%s:", sha[:12], why, keeping)
        # A commit with thousands of problems must not write thousands of log lines.
        for problem in problems[:LOGGED_PROBLEMS]:
            log.error("  %s", problem)
        if len(problems) > LOGGED_PROBLEMS:
            log.error(
                "  ... and %d more (syncd validate lists them all)", len(problems) - LOGGED_PROBLEMS
            )

    def _tree(self, sha: str) -> Path:
        """The files of commit ``sha``, written once: rollouts in flight keep reading the tree of
        their own commit (a build context must not change under a build) while the checkout
        moves on."""
        tree = self.settings.trees_dir / sha
        if not tree.is_dir():
            partial = self.settings.trees_dir / f".{sha}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            checkout_revision(self.settings.checkout_dir, sha, partial)
            partial.rename(tree)
        return tree

    def cleanup_trees(self, in_use: set[str]) -> None:
        """Remove the trees of commits neither applied nor ``in_use`` by rollouts in flight."""
        keep = set(in_use)
        if self.good is not None:
            keep.add(self.good.sha)
        trees = self.settings.trees_dir
        if not trees.is_dir():
            return
        for entry in trees.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)


def _repo_of(settings: DaemonSettings) -> tuple[object, ...]:
    repo = settings.repo
    return (repo.url, repo.branch, repo.ssh_key, repo.known_hosts)
