"""The bad-input corpus (tests/corpus): each file gives a clear error and applies nothing.

A small valid repository (one deployment of one replica, three harness nodes) gets one bad file
at a time. ``syncd validate`` must exit 1 naming the file, line and what to fix; ``syncd apply
--yes`` against the harness engines must refuse the same way and create no container at all (a
commit with any invalid file changes nothing). Plan-stage cases (valid YAML no node can run) are
refused for that deployment only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from syncd.cli.main import main
from syncd.spec.loading import MAX_FILE_BYTES
from syncd.state import LABEL_DEPLOYMENT, LABEL_MANAGED

pytestmark = pytest.mark.faults

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

GOOD_DEFINITION = """\
id: def_good
image:
  name: "syncd-test/busybox:latest"
  internalPorts: []
command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
network: "none"
"""
GOOD_DEPLOYMENT = "id: depl_good\ndefinitionId: def_good\nreplicas: 1\n"


@dataclass(frozen=True)
class Case:
    name: str
    at: str  # where the bad file goes, relative to the repository root
    expect: tuple[str, ...]  # every string must be in the output
    stage: str = "validate"  # or "plan": valid input that no node can run
    file: str | None = None  # in tests/corpus/files; None: made by ``make`` at test time

    def __str__(self) -> str:
        return self.name


def _corpus_cases() -> list[Case]:
    entries = yaml.safe_load((CORPUS / "cases.yaml").read_text())
    return [
        Case(
            name=Path(entry["file"]).stem,
            at=entry["at"],
            expect=tuple(entry["expect"]),
            stage=entry.get("stage", "validate"),
            file=entry["file"],
        )
        for entry in entries
    ]


# Made at test time: megabytes are not committed, and a symlink's target is outside the repo.
GENERATED = [
    Case(
        name="huge_file",
        at="deployments/huge.yaml",
        expect=(
            "deployments/huge.yaml:1:1",
            f"over the {MAX_FILE_BYTES:,}-byte limit",
            "split it into several files",
        ),
    ),
    Case(
        name="symlink_escape",
        at="deployments/escape.yaml",
        expect=("deployments/escape.yaml", "symlink leaves the repository", "refused"),
    ),
]
CASES = _corpus_cases() + GENERATED


def make_repo(root: Path, case: Case, node_urls: dict[str, str]) -> Path:
    """The valid base repository plus the case's bad file; returns the repository root."""
    for folder in ("deployments", "definitions", "nodes"):
        (root / folder).mkdir(parents=True)
    (root / "definitions" / "def_good.yaml").write_text(GOOD_DEFINITION)
    (root / "deployments" / "depl_good.yaml").write_text(GOOD_DEPLOYMENT)
    for node_id, url in node_urls.items():
        (root / "nodes" / f"{node_id}.yaml").write_text(
            f"id: {node_id}\nurl: {url}\ncluster: test\n"
        )
    target = root / case.at
    if case.file is not None:
        shutil.copyfile(CORPUS / "files" / case.file, target)
    elif case.name == "huge_file":
        line = "# " + "padding to make the file too big to read " * 2 + "\n"
        body = GOOD_DEPLOYMENT.replace("depl_good", "depl_huge_file")
        target.write_text(body + line * (MAX_FILE_BYTES // len(line) + 10))
    elif case.name == "symlink_escape":
        outside = root.parent / "outside.yaml"
        outside.write_text(GOOD_DEPLOYMENT.replace("depl_good", "depl_outside"))
        target.symlink_to(outside)
    else:
        raise AssertionError(f"no recipe for generated case {case.name}")
    return root


def run_syncd(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI's own entry point in this process (a process start per case costs seconds on a
    busy machine); one test below runs it as a real command."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    code = exited.value.code
    return subprocess.CompletedProcess(args, code if isinstance(code, int) else 1, out, err)


def assert_clear_refusal(done: subprocess.CompletedProcess[str], case: Case) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    missing = [text for text in case.expect if text not in output]
    assert not missing, f"{missing} not in:\n{output}"


def harness_urls(engines) -> dict[str, str]:
    return {node.id: f"unix://{engines.socket(node.id)}" for node in engines.nodes}


def managed_deployments(engines) -> list[str]:
    """The deployment label of every managed container on every harness engine, any state."""
    found = []
    for node in engines.nodes:
        for container in engines.docker(node.id).containers.list(
            all=True, filters={"label": f"{LABEL_MANAGED}=true"}
        ):
            found.append(container.labels[LABEL_DEPLOYMENT])
    return found


def test_the_corpus_index_names_every_file_and_every_file_is_indexed() -> None:
    indexed = {case.file for case in CASES if case.file}
    on_disk = {path.name for path in (CORPUS / "files").iterdir()}
    assert indexed == on_disk


@pytest.mark.parametrize("case", [c for c in CASES if c.stage == "validate"], ids=str)
def test_validate_names_the_file_and_what_to_fix(tmp_path: Path, capsys, case: Case) -> None:
    root = make_repo(tmp_path / "repo", case, {"node-a": "unix:///nonexistent/docker.sock"})
    assert_clear_refusal(run_syncd(capsys, "validate", str(root)), case)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_apply_refuses_and_creates_nothing(tmp_path: Path, engines, capsys, case: Case) -> None:
    root = make_repo(tmp_path / "repo", case, harness_urls(engines))
    assert_clear_refusal(run_syncd(capsys, "apply", "--repo", str(root), "--yes"), case)
    managed = managed_deployments(engines)
    if case.stage == "validate":
        assert managed == []  # any invalid file: nothing at all is applied
    else:
        # the impossible deployment is refused; the valid one beside it is applied as usual
        assert managed == ["depl_good"]


def test_the_installed_command_refuses_an_alias_bomb_and_creates_nothing(
    tmp_path: Path, engines
) -> None:
    case = next(c for c in CASES if c.name == "alias_bomb")
    root = make_repo(tmp_path / "repo", case, harness_urls(engines))
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "apply", "--repo", str(root), "--yes"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert_clear_refusal(done, case)
    assert managed_deployments(engines) == []
