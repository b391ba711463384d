"""docs/getting-started.md, run as written against a real engine of the harness.

The YAML files, the config and the expected outputs are read out of the document itself, so the
walk-through cannot drift from what syncd does: the repository validates with the output shown,
the typo gives the error shown, the plans print what the document prints (hashes and commit ids
aside), apply brings up both replicas, and the daemon's one pass succeeds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from toolingkit import PROJECT_ROOT, SYNCD, git, run

DOC = PROJECT_ROOT / "docs" / "getting-started.md"
IMAGE = "busybox:1.36"  # the document's image; the harness's offline busybox stands in for it


def doc_text() -> str:
    return DOC.read_text()


def file_block(label: str) -> str:
    """The ```yaml block that follows the first mention of `label` followed by a colon."""
    match = re.search(rf"`{re.escape(label)}`:.*?```yaml\n(.*?)```", doc_text(), flags=re.S)
    assert match, f"getting-started.md has no block for {label}"
    return match.group(1)


def console_output(command: str, occurrence: int = 0) -> str:
    """What the document shows after `$ <command>` in a console block, up to the next prompt."""
    blocks = re.findall(r"```console\n(.*?)```", doc_text(), flags=re.S)
    found = []
    for block in blocks:
        for part in re.split(r"^\$ ", block, flags=re.M)[1:]:
            first, _, rest = part.partition("\n")
            if first.strip() == command:
                found.append(rest)
    assert len(found) > occurrence, f"getting-started.md does not show the output of `{command}`"
    return found[occurrence]


def normalise(text: str) -> str:
    """Hashes, commit ids and times differ from run to run."""
    text = re.sub(r"\b[0-9a-f]{8,64}\b", "HASH", text)
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", text).strip()


def shell_line(pattern: str) -> str:
    """A command line of a ```bash block, found by a regex."""
    for block in re.findall(r"```bash\n(.*?)```", doc_text(), flags=re.S):
        for line in block.splitlines():
            if re.search(pattern, line):
                return line
    raise AssertionError(f"getting-started.md has no bash line matching {pattern!r}")


@pytest.fixture
def document_image(engines):
    """The document's image name on the first engine, for this test only: a tag left behind
    would change the image list that tests/nodes/test_harness.py checks on a reused harness."""
    client = engines.docker(engines.nodes[0].id)
    client.images.get("syncd-test/busybox:latest").tag(*IMAGE.split(":"))
    yield IMAGE
    client.images.remove(IMAGE, force=True, noprune=True)  # untag only: the image stays


@pytest.mark.slow
def test_getting_started_walkthrough(engines, document_image, tmp_path, clean_env):
    node = engines.nodes[0]
    env = dict(clean_env)
    repo = tmp_path / "deployments-repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main", env=env)

    def syncd(*args: str, cwd: Path = repo):
        return run([str(SYNCD), *args], cwd=cwd, env=env)

    for name in ("definitions/hello.yaml", "deployments/hello.yaml", "nodes/local.yaml"):
        text = file_block(name)
        if name == "nodes/local.yaml":  # the document's local engine is a harness engine here
            assert "url: unix:///var/run/docker.sock" in text
            text = text.replace("unix:///var/run/docker.sock", node.url)
        (repo / name).parent.mkdir(exist_ok=True)
        (repo / name).write_text(text)
    assert f"name: {IMAGE}" in file_block("definitions/hello.yaml")

    # 4. validate, and the typo
    validated = syncd("validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert validated.stdout.strip() == console_output("syncd validate", 0).strip()
    deployment = repo / "deployments" / "hello.yaml"
    good = deployment.read_text()
    deployment.write_text(good.replace("replicas: 2", "replica: 3"))
    typo = syncd("validate")
    assert typo.returncode == 1
    assert (typo.stdout + typo.stderr).strip() == console_output("syncd validate", 1).strip()
    deployment.write_text(good)
    git(repo, "add", ".", env=env)
    git(repo, "commit", "-q", "-m", "hello: two replicas", env=env)

    # 5. plan against the live node
    planned = syncd("plan")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert normalise(planned.stdout) == normalise(console_output("syncd plan"))

    # 6. apply
    applied = syncd("apply", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    final_line = console_output("syncd apply --yes").strip().splitlines()[-1]
    assert final_line in applied.stdout
    running = engines.docker(node.id).containers.list(
        filters={"label": "io.syncd.deployment=depl_hello"}
    )
    assert len(running) == 2

    # 8. the daemon's one pass, with the document's config pointed at this repo. Run before
    # the change of step 7, so the pass has nothing to roll: rollouts are tested in tests/apply.
    match = re.search(r"\(reference/config.md\).*?```yaml\n(.*?)```", doc_text(), flags=re.S)
    assert match, "getting-started.md has no daemon config block"
    config = match.group(1)
    config = re.sub(r"url: \S+", f"url: {repo}", config, count=1)
    config = re.sub(r"stateDir: \S+", f"stateDir: {tmp_path / 'state'}", config)
    config = re.sub(r"listen: \S+", "listen: ''", config)  # no fixed port in tests
    (tmp_path / "syncd.yaml").write_text(config)
    passed = syncd("daemon", "--config", "syncd.yaml", "--once", cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    status = syncd("status", "--config", "syncd.yaml", cwd=tmp_path)
    assert status.returncode == 0, status.stdout + status.stderr
    shown = console_output("syncd status --config syncd.yaml")
    # the document shows the status after step 7's commit; here it is the first commit's
    assert normalise(status.stdout).splitlines()[1:] == normalise(shown).splitlines()[1:]
    listed = syncd(
        "deployment", "list", "--full", "--status-file", str(tmp_path / "state" / "status.json")
    )
    assert re.search(r"depl_hello\s+def_hello\s+OK", listed.stdout), listed.stdout

    # 7. change, offline preview
    sed = shell_line(r"^sed -i .*deployments/hello.yaml")
    run(["bash", "-c", sed], cwd=repo, env=env, check=True)
    git(repo, "commit", "-q", "-am", "hello: bonjour", env=env)
    offline = syncd("plan", "--base", "HEAD~1", "--head", "HEAD")
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert normalise(offline.stdout) == normalise(
        console_output("syncd plan --base HEAD~1 --head HEAD")
    )
