"""The state directory does not grow with every commit: after any number of applied, refused
and interrupted commits it holds the checkout, one tree (the applied commit's) and small files."""

from __future__ import annotations

from .helpers import DEFINITION, deployment, syncd


def tree_names(tmp_path) -> list[str]:
    trees = tmp_path / "state" / "trees"
    return sorted(p.name for p in trees.iterdir()) if trees.is_dir() else []


def test_only_the_applied_commits_tree_is_kept(repo, make_config, engines, tmp_path):
    config = make_config()
    big = "x" * 1_000_000  # a large file in every commit's tree
    repo.commit({"definitions/def_sleeper.yaml": DEFINITION}, "the definition")
    for version in range(2):
        # (the repo helper commits file by file: each one given must change)
        applied = repo.commit(
            {
                "deployments/depl_sleeper.yaml": deployment(1, f"v{version}"),
                "docs/big.txt": big + str(version),
            },
            f"v{version}",
        )
        assert syncd("daemon", "--config", str(config), "--once").returncode == 0
        # a refused commit on top, and the leftover of a tree write a crash interrupted
        refused = repo.commit({"deployments/depl_sleeper.yaml": "id: depl_sleeper\nreplica: 2\n"})
        (tmp_path / "state" / "trees" / f".{refused}.partial").mkdir(parents=True)
        assert syncd("daemon", "--config", str(config), "--once").returncode == 1
        assert tree_names(tmp_path) == [applied], version
        repo.commit({"deployments/depl_sleeper.yaml": deployment(1, f"v{version}-fixed")})
        assert syncd("daemon", "--config", str(config), "--once").returncode == 0
    state_files = sorted(p.name for p in (tmp_path / "state").iterdir())
    assert state_files == [
        "applied.json",
        "checkout",
        "deployments.json",
        "rollouts.json",
        "status.json",
        "syncd.lock",
        "trees",
    ], state_files
