"""The CI examples under examples/ run as written.

The commands are read out of the workflow files, never copied, so the examples cannot drift from
what is tested:
- validate and plan run for real against a real Git repository with a base and a feature
  branch (a bare "origin" and a clone, as a CI checkout has);
- the comment/note posting scripts run for real (node for actions/github-script, python for the
  GitLab after_script) against a local stand-in for the forge's API, the one thing that cannot
  run here.
"""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from toolingkit import PROJECT_ROOT, SAMPLE_REPO, git, has_command, run, write_files

GITHUB_WORKFLOW = PROJECT_ROOT / "examples" / "github-actions" / "syncd-plan.yml"
GITLAB_CI = PROJECT_ROOT / "examples" / "gitlab-ci" / ".gitlab-ci.yml"

needs_plan = pytest.mark.skipif(
    not (has_command("syncd.cli.plan") and has_command("syncd.cli.validate")),
    reason="syncd plan --base/--head has not landed yet (syncd/cli/plan.py, planner engineer)",
)

# --------------------------------------------------------------------------- the examples


def github_job() -> dict:
    workflow = yaml.safe_load(GITHUB_WORKFLOW.read_text())
    return workflow["jobs"]["plan"]


def github_step(step_id: str) -> dict:
    (step,) = (step for step in github_job()["steps"] if step.get("id") == step_id)
    return step


def gitlab_job() -> dict:
    return yaml.safe_load(GITLAB_CI.read_text())["syncd-plan"]


def test_github_workflow_shape():
    workflow = yaml.safe_load(GITHUB_WORKFLOW.read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as True
    assert "pull_request" in triggers
    assert workflow["permissions"]["pull-requests"] == "write"
    job = github_job()
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0
    # bash -eo pipefail, so `syncd validate | tee` fails the step when validation fails
    assert job["defaults"]["run"]["shell"] == "bash"
    assert "syncd validate" in github_step("validate")["run"]
    plan = github_step("plan")["run"]
    assert '--base "origin/$BASE_REF" --head HEAD --format markdown --output-dir plan/' in plan


def test_gitlab_job_shape():
    job = gitlab_job()
    assert job["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    assert job["variables"]["GIT_DEPTH"] == "0"
    script = "\n".join(job["script"])
    assert "syncd validate" in script
    assert (
        '--base "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" --head HEAD --format markdown '
        "--output-dir plan/" in script
    )


# --------------------------------------------------------------------------- a real PR


@pytest.fixture()
def pull_request(tmp_path, clean_env) -> dict[str, Path]:
    """origin (bare) with main and two branches; clones checked out at each branch's head."""
    origin = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], env=clean_env, check=True)
    author = tmp_path / "author"
    run(["git", "clone", "-q", str(origin), str(author)], env=clean_env, check=True)
    git(author, "checkout", "-q", "-b", "main", env=clean_env)
    write_files(author, SAMPLE_REPO)
    git(author, "add", ".", env=clean_env)
    git(author, "commit", "-q", "-m", "web: two replicas", env=clean_env)
    git(author, "push", "-q", "origin", "main", env=clean_env)

    git(author, "checkout", "-q", "-b", "scale-web", env=clean_env)
    write_files(
        author,
        {
            "deployments/web.yaml": SAMPLE_REPO["deployments/web.yaml"]
            .replace("replicas: 2", "replicas: 3")
            .replace("LOG_LEVEL: info", "LOG_LEVEL: debug")
        },
    )
    git(author, "commit", "-q", "-am", "web: three replicas, debug logs", env=clean_env)
    git(author, "push", "-q", "origin", "scale-web", env=clean_env)

    git(author, "checkout", "-q", "-b", "typo", "main", env=clean_env)
    write_files(
        author, {"deployments/web.yaml": "id: depl_web\ndefinitionId: def_web\nreplica: 3\n"}
    )
    git(author, "commit", "-q", "-am", "web: a typo", env=clean_env)
    git(author, "push", "-q", "origin", "typo", env=clean_env)

    checkouts = {}
    for branch in ("scale-web", "typo"):
        checkout = tmp_path / f"ci-{branch}"
        run(["git", "clone", "-q", str(origin), str(checkout)], env=clean_env, check=True)
        git(checkout, "checkout", "-q", branch, env=clean_env)
        checkouts[branch] = checkout
    return checkouts


def run_github_step(step_id: str, checkout: Path, env: dict[str, str]):
    """A `run:` step as the runner does with `shell: bash`."""
    assert github_job()["defaults"]["run"]["shell"] == "bash"
    step_env = {**env, **{k: str(v) for k, v in github_job()["env"].items()}, "BASE_REF": "main"}
    script = github_step(step_id)["run"]
    return run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], checkout, step_env
    )


def run_gitlab_script(checkout: Path, env: dict[str, str]):
    """The job's `script:` lines in one POSIX shell that stops at the first failing line."""
    job_env = {**env, **{k: str(v) for k, v in gitlab_job()["variables"].items()}}
    job_env["CI_MERGE_REQUEST_TARGET_BRANCH_NAME"] = "main"
    return run(["sh", "-e", "-c", "\n".join(gitlab_job()["script"])], checkout, job_env)


def plan_text(checkout: Path) -> str:
    parts = sorted((checkout / "plan").glob("*.md"))
    assert parts, f"no markdown written to {checkout / 'plan'}"
    return "\n".join(part.read_text() for part in parts)


@needs_plan
@pytest.mark.slow
def test_github_steps_plan_the_feature_branch(pull_request, clean_env):
    checkout = pull_request["scale-web"]
    validated = run_github_step("validate", checkout, clean_env)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    planned = run_github_step("plan", checkout, clean_env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    text = plan_text(checkout)
    assert "depl_web" in text
    assert "replicas" in text
    assert "LOG_LEVEL" in text
    assert "debug" in text  # the new value of the changed envar
    assert "offline" in text  # the base/head preview: no node was contacted


@needs_plan
@pytest.mark.slow
def test_github_validate_step_fails_on_invalid_yaml(pull_request, clean_env):
    checkout = pull_request["typo"]
    result = run_github_step("validate", checkout, clean_env)
    assert result.returncode == 1
    assert "deployments/web.yaml:3:" in (checkout / "validate.txt").read_text()


@needs_plan
@pytest.mark.slow
def test_gitlab_script_plans_the_feature_branch(pull_request, clean_env):
    checkout = pull_request["scale-web"]
    result = run_gitlab_script(checkout, clean_env)
    assert result.returncode == 0, result.stdout + result.stderr
    text = plan_text(checkout)
    assert "depl_web" in text
    assert "replicas" in text


@needs_plan
@pytest.mark.slow
def test_gitlab_script_fails_on_invalid_yaml_and_keeps_the_errors(pull_request, clean_env):
    checkout = pull_request["typo"]
    result = run_gitlab_script(checkout, clean_env)
    assert result.returncode == 1
    assert "deployments/web.yaml:3:" in result.stdout
    assert "deployments/web.yaml:3:" in (checkout / "validate-errors.txt").read_text()
    assert not (checkout / "plan").exists()


# --------------------------------------------------------------------------- posting


class FakeForge:
    """A stand-in for the GitLab notes API: keeps notes in memory, records every request."""

    def __init__(self, notes: list[dict] | None = None) -> None:
        self.notes = list(notes or [])
        self.requests: list[tuple[str, str]] = []
        self.next_id = 1000

    def serve(self):
        forge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def reply(self, status, payload):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def body(self):
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def handle_any(self):
                forge.requests.append((self.command, self.path))
                if self.headers.get("PRIVATE-TOKEN") != "notes-token":
                    return self.reply(401, {"message": "401 Unauthorized"})
                base = "/api/v4/projects/group%2Fdeployments/merge_requests/7/notes"
                path = self.path.split("?")[0]
                if self.command == "GET" and path == base:
                    return self.reply(200, forge.notes)
                if self.command == "POST" and path == base:
                    forge.next_id += 1
                    note = {"id": forge.next_id, "body": self.body()["body"], "system": False}
                    forge.notes.append(note)
                    return self.reply(201, note)
                note_id = int(path.rsplit("/", 1)[-1])
                (note,) = (n for n in forge.notes if n["id"] == note_id)
                if self.command == "PUT":
                    note["body"] = self.body()["body"]
                    return self.reply(200, note)
                forge.notes.remove(note)
                return self.reply(204, None)

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def run_gitlab_after_script(workdir: Path, forge: FakeForge, env: dict[str, str]):
    server = forge.serve()
    try:
        job_env = {
            **env,
            "CI_API_V4_URL": f"http://127.0.0.1:{server.server_address[1]}/api/v4",
            "CI_PROJECT_ID": "group/deployments",
            "CI_MERGE_REQUEST_IID": "7",
            "SYNCD_NOTES_TOKEN": "notes-token",
        }
        return run(["bash", "-e", "-c", "\n".join(gitlab_job()["after_script"])], workdir, job_env)
    finally:
        server.shutdown()
        server.server_close()


def write_plan_parts(workdir: Path, count: int) -> None:
    shutil.rmtree(workdir / "plan", ignore_errors=True)
    (workdir / "plan").mkdir(parents=True)
    for number in range(1, count + 1):
        (workdir / "plan" / f"plan-{number}.md").write_text(f"plan part {number}\n")


def test_gitlab_after_script_posts_then_updates_notes(tmp_path, clean_env):
    forge = FakeForge([{"id": 1, "body": "LGTM", "system": False}])
    write_plan_parts(tmp_path, 2)
    first = run_gitlab_after_script(tmp_path, forge, clean_env)
    assert first.returncode == 0, first.stdout + first.stderr
    bodies = [note["body"] for note in forge.notes]
    assert bodies == [
        "LGTM",
        "<!-- syncd-plan part 1 -->\nplan part 1\n",
        "<!-- syncd-plan part 2 -->\nplan part 2\n",
    ]

    # the next push: a shorter plan updates part 1 in place and deletes part 2
    (tmp_path / "plan" / "plan-2.md").unlink()
    (tmp_path / "plan" / "plan-1.md").write_text("plan part 1, again\n")
    forge.requests.clear()
    second = run_gitlab_after_script(tmp_path, forge, clean_env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert [note["body"] for note in forge.notes] == [
        "LGTM",
        "<!-- syncd-plan part 1 -->\nplan part 1, again\n",
    ]
    assert [method for method, _ in forge.requests] == ["GET", "PUT", "DELETE"]


def test_gitlab_after_script_posts_validation_errors(tmp_path, clean_env):
    forge = FakeForge()
    (tmp_path / "validate-errors.txt").write_text(
        "deployments/web.yaml:3:1: $.replica: unknown field\n"
    )
    result = run_gitlab_after_script(tmp_path, forge, clean_env)
    assert result.returncode == 0, result.stdout + result.stderr
    (note,) = forge.notes
    assert note["body"].startswith("<!-- syncd-plan part 1 -->\n### syncd: invalid repository")
    assert "deployments/web.yaml:3:1: $.replica: unknown field" in note["body"]


def test_gitlab_after_script_without_token_posts_nothing(tmp_path, clean_env):
    write_plan_parts(tmp_path, 1)
    env = {k: v for k, v in clean_env.items() if k != "SYNCD_NOTES_TOKEN"}
    result = run(["bash", "-c", "\n".join(gitlab_job()["after_script"])], tmp_path, env)
    assert "SYNCD_NOTES_TOKEN is not set" in result.stderr


GITHUB_SCRIPT_HARNESS = """
const calls = [];
let comments = JSON.parse(process.env.EXISTING_COMMENTS);
const github = {
  paginate: async (fn, args) => fn(args),
  rest: { issues: {
    listComments: (args) => { calls.push(['list', args.issue_number]); return comments; },
    createComment: async (args) => { calls.push(['create', args.body]); },
    updateComment: async (args) => { calls.push(['update', args.comment_id, args.body]); },
    deleteComment: async (args) => { calls.push(['delete', args.comment_id]); },
  } },
};
const context = { repo: { owner: 'team', repo: 'deployments' }, issue: { number: 7 } };
(async () => {
SCRIPT
})().then(() => console.log(JSON.stringify(calls)), (e) => { console.error(e); process.exit(1); });
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_github_script_creates_updates_and_trims_comments(tmp_path, clean_env):
    step = next(s for s in github_job()["steps"] if "github-script" in s.get("uses", ""))
    harness = tmp_path / "harness.js"
    harness.write_text(GITHUB_SCRIPT_HARNESS.replace("SCRIPT", step["with"]["script"]))
    bot = {"type": "Bot"}
    existing = [
        {"id": 1, "body": "<!-- syncd-plan part 1 -->\nold 1", "user": bot},
        {"id": 2, "body": "<!-- syncd-plan part 3 -->\nold 3", "user": bot},
        {
            "id": 3,
            "body": "<!-- syncd-plan part 2 --> quoted by a person",
            "user": {"type": "User"},
        },
    ]
    write_plan_parts(tmp_path, 2)
    env = {**clean_env, "VALIDATE_OUTCOME": "success", "EXISTING_COMMENTS": json.dumps(existing)}
    result = run(["node", str(harness)], tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == [
        ["list", 7],
        ["update", 1, "<!-- syncd-plan part 1 -->\nplan part 1\n"],
        ["create", "<!-- syncd-plan part 2 -->\nplan part 2\n"],
        ["delete", 2],
    ]

    (tmp_path / "validate.txt").write_text("deployments/web.yaml:3:1: $.replica: unknown field\n")
    env.update(VALIDATE_OUTCOME="failure", EXISTING_COMMENTS="[]")
    result = run(["node", str(harness)], tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    ((action, body),) = json.loads(result.stdout)[1:]
    assert action == "create"
    assert "deployments/web.yaml:3:1: $.replica: unknown field" in body
