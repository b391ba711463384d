"""A big cold load shares its reading and YAML with a second process (spec/parse_helper.py).

The helper is a real process running the real code; the threshold is lowered so a repository
of a few dozen files is "big". What is held: a load with a helper gives exactly what a load
alone gives (the models, and every problem at its file:line:column), whatever the files hold
(documents the quick builder refuses, values marshal cannot carry, bytes that are not UTF-8,
files over the limit); a helper that dies, stalls or answers garbage costs no file.
"""

from __future__ import annotations

import marshal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd.errors import SpecError
from syncd.spec import parse_helper, repository
from syncd.spec.cache import ParseCache
from syncd.spec.parse_helper import ParseHelper, helper_wanted, looks_big
from syncd.spec.repository import load_repository
from tests.source.gitrepos import commit_file, git
from tests.spec.conftest import write_repo

NODE = 'id: node-{i}\nurl: "unix:///run/docker-{i}.sock"\ncluster: local\n'
DEFINITION = 'id: def_{i}\nimage: {{name: "app:{i}", internalPorts: [8080]}}\n'
DEPLOYMENT = (
    "id: depl_{i:03d}\ndefinitionId: def_{d}\nreplicas: {r}\n"
    'envars:\n  INDEX: "{i}"\nresources: {{cpu: 100m, memory: 64Mi}}\n'
)


def valid_files(count: int = 60) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {f"nodes/node-{i}.yaml": NODE.format(i=i) for i in range(3)}
    files.update({f"definitions/def_{d}.yaml": DEFINITION.format(i=d) for d in range(6)})
    files.update(
        {
            f"deployments/depl_{i:03d}.yaml": DEPLOYMENT.format(i=i, d=i % 6, r=1 + i % 3)
            for i in range(count)
        }
    )
    return files


# Files the helper answers None for (the load reads them itself) or builds the quick way while
# the load finds their problems later; every one of them must come out as a load alone says.
AWKWARD: dict[str, str | bytes] = {
    # a schema problem in a document the helper builds: its position is found from the text
    "deployments/bad_replicas.yaml": "id: depl_bad\ndefinitionId: def_1\nreplicas: many\n",
    # the second document of a file wrong, the first fine
    "deployments/two_docs.yaml": (
        "id: depl_two_a\ndefinitionId: def_1\n---\nid: depl_two_b\ndefinitionId: def_1\n"
        "strategy: {type: Sideways}\n"
    ),
    # a duplicate key: the quick builder refuses it, the recording one names it
    "deployments/duplicate.yaml": "id: depl_dup\ndefinitionId: def_1\nreplicas: 1\nreplicas: 2\n",
    # a merge key and an alias: the recording builder's business
    "deployments/merged.yaml": (
        "base: &base {definitionId: def_2, replicas: 2}\nid: depl_merged\n<<: *base\n"
    ),
    # a date: built by both builders, but marshal cannot carry it
    "deployments/dated.yaml": "id: depl_dated\ndefinitionId: def_1\nreleased: 2026-12-01\n",
    "deployments/not_utf8.yaml": b"id: depl_latin\ndefinitionId: def_1\nname: caf\xe9\n",
    "deployments/broken.yaml": "id: depl_broken\ndefinitionId: [def_1\n",
    "deployments/empty.yaml": "",
    "deployments/too_big.yaml": "id: depl_big\ndefinitionId: def_1\n" + "# padding\n" * 200,
    # not in a kind folder: the load alone tests it for a kind
    "elsewhere/compose.yaml": "services: {web: {image: nginx}}\n",
}


@pytest.fixture()
def helped(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ParseHelper]]:
    """Every helper a load starts, its threshold lowered to 10 files, on two cores even where
    this runs on one; the tests' own ``SYNCD_PARSE_HELPER`` setting is cleared."""
    monkeypatch.delenv("SYNCD_PARSE_HELPER", raising=False)
    monkeypatch.setattr(parse_helper, "HELPER_FROM_FILES", 10)
    monkeypatch.setattr(repository, "HELPER_FROM_FILES", 10)
    monkeypatch.setattr(parse_helper, "_usable_cores", lambda: 2)  # as on the CI machine
    started: list[ParseHelper] = []
    spawn = ParseHelper.spawn.__func__  # type: ignore[attr-defined]

    def recording_spawn(cls: type[ParseHelper], *args: Any, **kwargs: Any) -> ParseHelper | None:
        helper = spawn(cls, *args, **kwargs)
        if helper is not None:
            started.append(helper)
        return helper

    monkeypatch.setattr(ParseHelper, "spawn", classmethod(recording_spawn))
    yield started


def committed(root: Path) -> Path:
    """``root`` made a Git work tree with everything committed: its blob ids are known, so a
    load with a cache hands its files out without reading them first."""
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "the repository")
    return root


def load_both(root: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> tuple[Any, Any]:
    """(with a helper, alone): each a RepoSpec or the problems of its SpecError; the helped
    load is done without a cache and with one, and both must agree."""

    def outcome(cache: ParseCache | None) -> Any:
        try:
            return load_repository(root, cache=cache, **options)
        except SpecError as error:
            return [(p.file, p.line, p.column, p.path, p.message) for p in error.problems]

    helped = outcome(None)
    assert outcome(ParseCache()) == helped
    with monkeypatch.context() as alone:
        alone.setenv("SYNCD_PARSE_HELPER", "off")
        by_itself = outcome(None)
    return helped, by_itself


def test_a_valid_repository_loads_the_same_with_a_helper(
    tmp_path: Path, helped: list[ParseHelper], monkeypatch: pytest.MonkeyPatch
):
    root = committed(write_repo(tmp_path / "repo", valid_files()))
    with_helper, alone = load_both(root, monkeypatch)
    assert with_helper == alone
    assert len(with_helper.deployments) == 60
    assert len(helped) == 2 and all(helper.files_answered > 0 for helper in helped)


def test_every_problem_is_the_same_and_at_the_same_place_with_a_helper(
    tmp_path: Path, helped: list[ParseHelper], monkeypatch: pytest.MonkeyPatch
):
    root = committed(write_repo(tmp_path / "repo", {**valid_files(), **AWKWARD}))
    with_helper, alone = load_both(root, monkeypatch, max_file_bytes=1024)
    assert with_helper == alone
    files_with_problems = {problem[0] for problem in alone}
    assert {
        "deployments/bad_replicas.yaml",
        "deployments/two_docs.yaml",
        "deployments/duplicate.yaml",
        "deployments/not_utf8.yaml",
        "deployments/broken.yaml",
        "deployments/empty.yaml",
        "deployments/too_big.yaml",
    } <= files_with_problems
    bad = next(p for p in alone if p[0] == "deployments/bad_replicas.yaml")
    assert bad[1:4] == (3, 11, "$.replicas")  # found again from the text the helper sent
    assert len(helped) == 2 and all(helper.files_answered > 0 for helper in helped)


def test_what_the_helper_refuses_comes_back_as_none(tmp_path: Path):
    root = write_repo(tmp_path / "repo", AWKWARD)
    limit = 1024
    assert parse_helper.prepare(root, "deployments/bad_replicas.yaml", limit) is not None
    for refused in (
        "deployments/duplicate.yaml",
        "deployments/merged.yaml",
        "deployments/not_utf8.yaml",
        "deployments/broken.yaml",
        "deployments/empty.yaml",
        "deployments/too_big.yaml",
        "deployments/missing.yaml",
    ):
        assert parse_helper.prepare(root, refused, limit) is None, refused
    answer = parse_helper._answer(
        ["deployments/dated.yaml", "deployments/two_docs.yaml"], root, limit
    )
    dated, two_docs = marshal.loads(answer)
    assert dated == ("deployments/dated.yaml", None)  # a date: marshal cannot carry it
    assert two_docs[1] is not None and len(two_docs[1][1]) == 2


def _with_command(monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    spawn = ParseHelper.spawn.__func__  # type: ignore[attr-defined]

    def other_program(cls: type[ParseHelper], root: Path, limit: int, **_: Any) -> Any:
        return spawn(cls, root, limit, command=command)

    monkeypatch.setattr(ParseHelper, "spawn", classmethod(other_program))


@pytest.mark.parametrize(
    "program",
    [
        "import sys; sys.exit(3)",  # dies at once
        "import sys; sys.stdin.buffer.read(10); sys.exit(1)",  # dies after a request
        "import sys, time; sys.stdout.buffer.write(b'\\0\\0\\0\\5garbage'); sys.stdout.flush();"
        " time.sleep(30)",  # answers garbage, then hangs
    ],
    ids=["dies-at-once", "dies-mid-way", "answers-garbage"],
)
def test_a_helper_that_fails_costs_no_file(
    tmp_path: Path, helped: list[ParseHelper], monkeypatch: pytest.MonkeyPatch, program: str
):
    root = committed(write_repo(tmp_path / "repo", {**valid_files(), **AWKWARD}))
    _with_command(monkeypatch, [sys.executable, "-c", program])
    with_helper, alone = load_both(root, monkeypatch, max_file_bytes=1024)
    assert with_helper == alone


@pytest.mark.parametrize(
    "program",
    [
        "import time; time.sleep(60)",
        # the start of an answer of 1,000 bytes, then nothing
        "import sys, time; sys.stdout.buffer.write(b'\\0\\0\\3\\xe8[abc'); sys.stdout.flush();"
        " time.sleep(60)",
    ],
    ids=["never-answers", "stops-half-way-through-an-answer"],
)
def test_a_helper_that_stalls_is_stopped_and_the_load_parses_alone(
    tmp_path: Path, helped: list[ParseHelper], monkeypatch: pytest.MonkeyPatch, program: str
):
    root = committed(write_repo(tmp_path / "repo", valid_files()))
    monkeypatch.setattr(parse_helper, "STALL_S", 0.3)
    _with_command(monkeypatch, [sys.executable, "-c", program])
    with_helper, alone = load_both(root, monkeypatch)
    assert with_helper == alone
    assert len(helped) == 2  # without a cache and with one
    assert all(helper.files_answered == 0 for helper in helped)
    assert all(helper._process.returncode is not None for helper in helped)  # reaped


def test_the_helper_is_reaped_after_every_load(
    tmp_path: Path, helped: list[ParseHelper], monkeypatch: pytest.MonkeyPatch
):
    root = committed(write_repo(tmp_path / "repo", valid_files()))
    cache = ParseCache()
    load_repository(root, cache=cache)
    assert len(helped) == 1 and helped[0].files_answered > 0
    commit_file(root, "deployments/depl_000.yaml", DEPLOYMENT.format(i=0, d=0, r=3))
    load_repository(root, cache=cache)  # one file changed: too few to share, no helper
    assert cache.stats().misses == 70  # 69 files, then the one that changed
    assert len(helped) == 1
    assert all(helper._process.returncode is not None for helper in helped)


def test_a_small_load_a_warm_one_and_a_turned_off_helper_start_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("SYNCD_PARSE_HELPER", raising=False)
    assert not helper_wanted(parse_helper.HELPER_FROM_FILES - 1)
    if parse_helper._usable_cores() > 1:
        assert helper_wanted(parse_helper.HELPER_FROM_FILES)
    monkeypatch.setenv("SYNCD_PARSE_HELPER", "off")
    assert not helper_wanted(10 * parse_helper.HELPER_FROM_FILES)
    monkeypatch.delenv("SYNCD_PARSE_HELPER")
    monkeypatch.setattr(parse_helper, "_usable_cores", lambda: 1)
    assert not helper_wanted(10 * parse_helper.HELPER_FROM_FILES)


def test_the_probe_counts_the_kind_folders_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(parse_helper, "HELPER_FROM_FILES", 10)
    root = write_repo(tmp_path / "repo", {f"docs/page-{i}.yaml": "a: 1\n" for i in range(20)})
    assert not looks_big(root)
    write_repo(root, {f"deployments/d{i}.yaml": "id: x\n" for i in range(6)})
    write_repo(root, {f"nodes/n{i}.yaml": "id: x\n" for i in range(4)})
    assert looks_big(root)
    assert not looks_big(tmp_path / "absent")
