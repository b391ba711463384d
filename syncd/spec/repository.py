"""Load a whole repository (or one API body) into checked models, reporting every problem at once.

Which files are read, and how, is ``syncd.spec.discovery`` (the layout is described there).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.errors import SpecError, SpecProblem, UsageError
from syncd.spec import node_checks, reference_checks, validation
from syncd.spec.converting import convert
from syncd.spec.discovery import KINDS, discover, file_documents
from syncd.spec.loading import MAX_FILE_BYTES, Document
from syncd.spec.models import Definition, Deployment, NodeSpec, RepoSpec, SwarmClusterSpec
from syncd.spec.shards import check_assignment, load_shards
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
    root: Path, relative: str, folder_kind: str | None, max_file_bytes: int, data: bytes | None
) -> ParsedFile:
    """Parse and convert one file: its (kind, model) items and its problems. Depends on the
    file's bytes and path alone, so ``ParseCache`` can keep the result by blob id. ``data``: the
    bytes when the caller has read them already (at most ``max_file_bytes + 1``)."""
    documents, problems = file_documents(root, relative, folder_kind, max_file_bytes, data)
    items: list[tuple[str, Loaded[Any]]] = []
    rejected: list[Rejected] = []
    for kind, document in documents:
        if kind is None:
            continue
        model, model_problems = convert(document, kind)
        problems.extend(model_problems)
        if model is not None:
            items.append((kind, Loaded(model, document)))
        elif model_problems and isinstance(_get(document.data, "id"), str):
            rejected.append(Rejected(kind, document.data["id"], model_problems[0]))
    return items, problems, rejected


def load_repository(
    root: Path,
    *,
    revision: str | None = None,
    extra_nodes: Sequence[NodeSpec] = (),
    max_file_bytes: int = MAX_FILE_BYTES,
    cache: ParseCache | None = None,
) -> RepoSpec:
    """Every deployment, definition and node of the repository at ``root``, checked.

    Raises one SpecError listing every problem of every file (schema, quantities, references
    across files). ``extra_nodes`` (from the daemon's configuration) count as declared nodes
    for targetRegions. Problems and notes name files relative to ``root``. With a ``cache``
    (kept across calls), a file whose Git blob id is unchanged is not read or parsed again, and
    an unchanged clean tree is not even walked.
    """
    if cache is not None:
        arguments = (revision, tuple(extra_nodes), max_file_bytes)
        result: RepoSpec = cache.load(
            Path(root),
            arguments,
            lambda: _load_repository(root, revision, extra_nodes, max_file_bytes, cache),
        )
        return result
    return _load_repository(root, revision, extra_nodes, max_file_bytes, None)


def _load_repository(
    root: Path,
    revision: str | None,
    extra_nodes: Sequence[NodeSpec],
    max_file_bytes: int,
    cache: ParseCache | None,
) -> RepoSpec:
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"repository path {str(root)!r} is not a directory")
    files, problems = discover(root)
    loaded: dict[str, list[Loaded[Any]]] = {kind: [] for kind in KINDS}
    notes: list[SpecProblem] = []
    parse = _parse_file if cache is None else cache.wrap(root, _parse_file)
    rejected: list[Rejected] = []
    for relative, folder_kind in files:
        items, file_problems, file_rejected = parse(
            root, relative, folder_kind, max_file_bytes, None
        )
        problems.extend(file_problems)
        rejected.extend(file_rejected)
        for kind, item in items:
            loaded[kind].append(item)
    for item in loaded["Deployment"]:
        problems.extend(validation.check_deployment(item.model, item.document))
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
