"""The daemon parses only the files a new commit changed (Git blob ids key its parse cache)."""

from __future__ import annotations

from syncd.daemon.config import load_config
from syncd.daemon.loop import Daemon
from tests.daemon.helpers import DEFINITION, deployment


def idle(i: int) -> str:
    return deployment(1).replace("depl_sleeper", f"depl_idle{i}")


def test_a_new_commit_reparses_only_the_files_it_changed(repo, make_config) -> None:
    files = {f"deployments/depl_idle{i}.yaml": idle(i) for i in range(3)}
    files["definitions/def_sleeper.yaml"] = DEFINITION
    first_sha = repo.commit({**files, "deployments/depl_sleeper.yaml": deployment(1)})
    daemon = Daemon(load_config(make_config()))
    daemon.settings.trees_dir.mkdir(parents=True)
    assert daemon.source.sync() == first_sha
    # the step of a pass that checks, loads and renders a commit
    daemon.reconciler.commits.evaluate(first_sha)
    assert daemon.good is not None and daemon.good.sha == first_sha
    first = daemon.parse_cache.stats()
    assert (first.hits, first.misses) == (0, 5)

    second_sha = repo.commit({"deployments/depl_sleeper.yaml": deployment(1, version="v2")})
    assert daemon.source.sync() == second_sha
    daemon.reconciler.commits.evaluate(second_sha)
    assert daemon.good.sha == second_sha
    second = daemon.parse_cache.stats()
    # one file changed: parsed again; the four others came from the cache by blob id
    assert (second.misses - first.misses, second.hits - first.hits) == (1, 4)
