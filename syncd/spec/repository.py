"""Load a whole repository (or one API body) into checked models, reporting every problem at once.

Which files are read, and how, is ``syncd.spec.discovery`` (the layout is described there).
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.errors import SpecError, SpecProblem, UsageError
from syncd.spec import node_checks, reference_checks, validation
from syncd.spec.collector import collector_paused
from syncd.spec.converting import convert
from syncd.spec.discovery import KINDS, DirectoryFiles, file_documents
from syncd.spec.file_source import RepoFiles
from syncd.spec.loading import MAX_FILE_BYTES, Document, PreparedFile
from syncd.spec.models import Definition, Deployment, NodeSpec, RepoSpec, SwarmClusterSpec
from syncd.spec.parse_helper import HELPER_FROM_FILES, ParseHelper, helper_wanted, looks_big
from syncd.spec.shards import SHARDS_FILE, check_assignment, load_shards
from syncd.spec.validation import Loaded, Rejected

if TYPE_CHECKING:  # only a type: load_repository calls the cache it is given
    from syncd.spec.cache import ParseCache


def _get(data: dict[str, Any], *keys: str, default: Any = None) -> Any:
    value: Any = data
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return default
        value = value[key]
    return value


# --------------------------------------------------------------------------- single documents (API)


def _parse_one(data: Any, file: str, kind: str) -> Any:
    document = Document(data=data, file=file)
    model, problems = convert(document, kind)
    if model is not None:
        if kind == "Deployment":
            problems = validation.check_deployment(model, document)
        elif kind == "Definition":
            problems = validation.check_definition(model, document, root=None)
        elif isinstance(model, SwarmClusterSpec):
            problems = node_checks.check_swarm(model, document)
        else:
            problems = node_checks.check_node(model, document)[0]
    if problems:
        raise SpecError(problems)
    return model


def parse_deployment(data: dict[str, Any], file: str = "<api>") -> Deployment:
    """One Deployment from plain data (an API body); raises SpecError listing every problem.

    Cross-file checks (does the definition exist?) are the caller's: it knows the other documents.
    """
    result: Deployment = _parse_one(data, file, "Deployment")
    return result


def parse_definition(data: dict[str, Any], file: str = "<api>") -> Definition:
    """One Definition from plain data; raises SpecError. Build paths are not checked on disk."""
    result: Definition = _parse_one(data, file, "Definition")
    return result


def parse_node(data: dict[str, Any], file: str = "<api>") -> NodeSpec:
    """One Node from plain data (e.g. the daemon config's extra nodes); raises SpecError."""
    result = _parse_one(data, file, "Node")
    if isinstance(result, SwarmClusterSpec):
        document = Document(data=data, file=file)
        raise SpecError(
            [document.problem(("kind",), "a swarm cluster is declared in the repository's nodes/")]
        )
    node: NodeSpec = result
    return node


# --------------------------------------------------------------------------- the repository


# (kind, model) items, problems, and the documents that declare an id but were refused
ParsedFile = tuple[list[tuple[str, "Loaded[Any]"]], list[SpecProblem], list[Rejected]]


def _parse_file(
    files: RepoFiles,
    relative: str,
    folder_kind: str | None,
    max_file_bytes: int,
    data: bytes | None,
    prepared: PreparedFile | None = None,
) -> ParsedFile:
    """Parse, convert and check one file (a deployment's own meaning too: replica bounds,
    strategy, templates): its (kind, model) items and its problems. Depends on the file's bytes
    and path alone, so ``ParseCache`` can keep the result by blob id. ``data``: the bytes when
    the caller has read them already (at most ``max_file_bytes + 1``); ``prepared``: its text
    and documents as a parse helper built them."""
    documents, problems = file_documents(
        files, relative, folder_kind, max_file_bytes, data, prepared
    )
    items: list[tuple[str, Loaded[Any]]] = []
    rejected: list[Rejected] = []
    for kind, document in documents:
        if kind is None:
            continue
        model, model_problems = convert(document, kind)
        problems.extend(model_problems)
        if model is not None:
            items.append((kind, Loaded(model, document)))
            if kind == "Deployment":  # its meaning depends on its own document alone
                problems.extend(validation.check_deployment(model, document))
        elif model_problems and isinstance(_get(document.data, "id"), str):
            rejected.append(Rejected(kind, document.data["id"], model_problems[0]))
    return items, problems, rejected


def load_repository(
    root: Path | RepoFiles,
    *,
    revision: str | None = None,
    extra_nodes: Sequence[NodeSpec] = (),
    max_file_bytes: int = MAX_FILE_BYTES,
    cache: ParseCache | None = None,
) -> RepoSpec:
    """Every deployment, definition and node of the repository at ``root``, checked.

    Raises one SpecError listing every problem of every file (schema, quantities, references
    across files). ``extra_nodes`` (from the daemon's configuration) count as declared nodes
    for targetRegions. Problems and notes name files relative to ``root``: a directory, or a
    ``RepoFiles`` (a commit read from Git, ``syncd.source.commit_files``). With a ``cache``
    (kept across calls), a file whose Git blob id is unchanged is not read or parsed again, and
    an unchanged clean tree is not even walked.
    """
    files = DirectoryFiles(Path(root)) if isinstance(root, (str, Path)) else root
    # A load's data holds no cycles: no collector walks while it is built (spec/collector.py),
    # whoever asks (a pass pauses it around load and render already: the pauses nest).
    with collector_paused(), _early_helper(files, cache, max_file_bytes) as helper:
        if cache is not None:
            arguments = (revision, tuple(extra_nodes), max_file_bytes)
            result: RepoSpec = cache.load(
                files.root,
                arguments,
                lambda: _load_repository(
                    files, revision, extra_nodes, max_file_bytes, cache, helper
                ),
            )
            return result
        return _load_repository(files, revision, extra_nodes, max_file_bytes, None, helper)


@contextlib.contextmanager
def _early_helper(
    files: RepoFiles, cache: ParseCache | None, limit: int
) -> Iterator[ParseHelper | None]:
    """A parse helper started before anything is read, for a load that is cold (a cache with
    nothing in it) and looks big: its start overlaps the Git call and the walk. Closed at the
    end, used or not (an unchanged tree needs no parse at all)."""
    helper = None
    if (
        isinstance(files, DirectoryFiles)
        and (cache is None or cache.stats().entries == 0)
        and helper_wanted(HELPER_FROM_FILES)
        and looks_big(files.root)
    ):
        helper = ParseHelper.spawn(files.root, limit)
    try:
        yield helper
    finally:
        if helper is not None:
            helper.close()


def _parser(
    files: RepoFiles, cache: ParseCache | None, prepared: dict[str, PreparedFile | None]
) -> Callable[..., ParsedFile]:
    """``_parse_file`` reading from ``files``, or taking a file from ``prepared`` (what a parse
    helper built), behind the cache when there is one (the cache hands back ``files.root``,
    which the parse ignores: bytes come from ``files``)."""

    def parse(
        root: Path, relative: str, folder_kind: str | None, limit: int, data: bytes | None
    ) -> ParsedFile:
        return _parse_file(files, relative, folder_kind, limit, data, prepared.pop(relative, None))

    if cache is None:
        return parse
    return cache.wrap(files.root, parse)


def _parse_files(
    files: RepoFiles,
    found: list[tuple[str, str | None]],
    limit: int,
    cache: ParseCache | None,
    early: ParseHelper | None,
) -> list[ParsedFile]:
    """Every found file parsed, in ``found``'s order. A big cold load of a directory shares the
    reading and YAML with a second process (``spec/parse_helper.py``; ``early`` when one was
    started before the walk): it takes files from the back, this process parses from the front
    and converts what comes back as it comes."""
    root = files.root
    prepared: dict[str, PreparedFile | None] = {}
    parse = _parser(files, cache, prepared)
    helper = None
    if isinstance(files, DirectoryFiles):
        # a file outside the kind folders is first tested for a kind: the load's own business
        in_folders = [(relative, kind) for relative, kind in found if kind is not None]
        to_hand = (
            [relative for relative, _ in in_folders]
            if cache is None
            else cache.known_misses(root, in_folders, limit)
        )
        if helper_wanted(len(to_hand)):
            helper = early or ParseHelper.spawn(root, limit)
        if helper is not None:
            helper.hand(to_hand)
    if helper is None:
        return [parse(root, relative, kind, limit, None) for relative, kind in found]
    parsed: list[ParsedFile | None] = [None] * len(found)
    handed: dict[str, int] = {}  # handed to the helper: where its result goes

    def take(answers: dict[str, PreparedFile | None]) -> None:
        prepared.update(answers)
        for relative in answers:
            position = handed.pop(relative, None)
            if position is not None:
                parsed[position] = parse(root, relative, found[position][1], limit, None)

    try:
        for position, (relative, kind) in enumerate(found):
            take(helper.arrived())
            if helper.claim(relative):
                parsed[position] = parse(root, relative, kind, limit, None)
            else:
                handed[relative] = position
        take(helper.rest())
    finally:
        helper.close()  # done with it (closing twice, as the early one is, does nothing)
    for relative, position in handed.items():  # never answered: parsed here after all
        parsed[position] = parse(root, relative, found[position][1], limit, None)
    return [result for result in parsed if result is not None]


def _local_build_paths(definitions: list[Loaded[Any]]) -> Iterator[str]:
    """The build context of each definition that may build from a folder of this repository,
    normalised; a path that leaves the repository is left out (validation refuses it)."""
    for item in definitions:
        repository = item.model.repository
        if repository is None:
            continue
        context = posixpath.normpath(posixpath.join(repository.url, repository.build_context))
        if not (context.startswith("/") or context == ".." or context.startswith("../")):
            yield context


def _load_repository(
    files: RepoFiles,
    revision: str | None,
    extra_nodes: Sequence[NodeSpec],
    max_file_bytes: int,
    cache: ParseCache | None,
    early_helper: ParseHelper | None = None,
) -> RepoSpec:
    root = files.root
    if not root.is_dir():
        raise UsageError(f"repository path {str(root)!r} is not a directory")
    found, problems = files.discover()
    loaded: dict[str, list[Loaded[Any]]] = {kind: [] for kind in KINDS}
    notes: list[SpecProblem] = []
    rejected: list[Rejected] = []
    for items, file_problems, file_rejected in _parse_files(
        files, found, max_file_bytes, cache, early_helper
    ):
        problems.extend(file_problems)
        rejected.extend(file_rejected)
        for kind, item in items:
            loaded[kind].append(item)
    # the checks below that look at a directory: build contexts on disk, shards.yaml
    files.materialise([SHARDS_FILE, *_local_build_paths(loaded["Definition"])])
    for item in loaded["Definition"]:
        problems.extend(validation.check_definition(item.model, item.document, root))
    swarms = [item for item in loaded["Node"] if isinstance(item.model, SwarmClusterSpec)]
    loaded["Node"] = [item for item in loaded["Node"] if isinstance(item.model, NodeSpec)]
    for item in loaded["Node"]:
        node_problems, node_notes = node_checks.check_node(item.model, item.document)
        problems.extend(node_problems)
        notes.extend(node_notes)
    for swarm in swarms:
        problems.extend(node_checks.check_swarm(swarm.model, swarm.document))
    problems.extend(
        reference_checks.check_references(
            loaded["Deployment"],
            loaded["Definition"],
            loaded["Node"],
            extra_nodes=extra_nodes,
            rejected=rejected,
            swarms=swarms,
        )
    )
    shard_map, shard_problems = load_shards(root)
    problems.extend(shard_problems)
    if shard_map is not None:
        assignment_problems, assignment_notes = check_assignment(
            shard_map,
            [(item.model, item.document) for item in loaded["Deployment"]],
            [
                *((item.model, item.document) for item in loaded["Node"]),
                *((node, None) for node in extra_nodes),
            ],
            [(swarm.model, swarm.document) for swarm in swarms],
        )
        problems.extend(assignment_problems)
        notes.extend(assignment_notes)
    if problems:
        raise SpecError(sorted(problems, key=_order))
    return RepoSpec(
        root=root,
        deployments=tuple(item.model for item in loaded["Deployment"]),
        definitions=tuple(item.model for item in loaded["Definition"]),
        nodes=tuple(item.model for item in loaded["Node"]),
        revision=revision,
        swarms=tuple(item.model for item in swarms),
        notes=tuple(sorted(notes, key=_order)),
        shards=shard_map,
    )


def _order(problem: SpecProblem) -> tuple[str, int, int, str]:
    return (problem.file, problem.line, problem.column, problem.path)
