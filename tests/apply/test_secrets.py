"""The secret provider: a private directory and age-encrypted files in the repo, for real."""

from __future__ import annotations

import os
from pathlib import Path

import pyrage
import pytest

from syncd.errors import SecretError
from syncd.spec.secrets import SecretProvider

SECRET_VALUE = "s3cr3t-Zq9-value"


def write_private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture()
def secrets_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "secrets.d"
    directory.mkdir(mode=0o700)
    directory.chmod(0o700)
    write_private(directory / "db-password", SECRET_VALUE + "\n")
    return directory


@pytest.fixture()
def age_repo(tmp_path: Path) -> tuple[Path, Path]:
    """A repo with secrets/jwt-secret.age (binary) and secrets/api.age (armored), and the
    identity file that opens them."""
    identity = pyrage.x25519.Identity.generate()
    identity_file = write_private(
        tmp_path / "host.agekey",
        f"# created: now\n# public key: {identity.to_public()}\n{identity}\n",
    )
    repo = tmp_path / "repo"
    (repo / "secrets").mkdir(parents=True)
    recipient = [identity.to_public()]
    (repo / "secrets" / "jwt-secret.age").write_bytes(
        pyrage.encrypt(b"jwt-" + SECRET_VALUE.encode(), recipient)
    )
    (repo / "secrets" / "api.age").write_bytes(
        pyrage.encrypt(b"api-value\n", recipient, armored=True)
    )
    return repo, identity_file


def test_directory_secret_is_read_without_its_trailing_newline(secrets_dir: Path) -> None:
    provider = SecretProvider(secrets_dir=secrets_dir)
    assert provider.get("db-password") == SECRET_VALUE


@pytest.mark.parametrize(
    ("target", "mode", "fix"),
    [
        ("file", 0o640, "chmod 600"),
        ("file", 0o604, "chmod 600"),
        ("dir", 0o750, "chmod 700"),
        ("dir", 0o705, "chmod 700"),
    ],
)
def test_secrets_readable_by_group_or_others_are_refused(
    secrets_dir: Path, target: str, mode: int, fix: str
) -> None:
    path = secrets_dir / "db-password" if target == "file" else secrets_dir
    path.chmod(mode)
    provider = SecretProvider(secrets_dir=secrets_dir)
    with pytest.raises(SecretError) as caught:
        provider.get("db-password")
    assert "db-password" in str(caught.value)
    assert caught.value.hint.startswith(fix)
    assert SECRET_VALUE not in str(caught.value) + str(caught.value.hint)
    with pytest.raises(SecretError):
        provider.digest("db-password")


def test_missing_secret_names_every_place_looked(secrets_dir: Path, tmp_path: Path) -> None:
    provider = SecretProvider(secrets_dir=secrets_dir, repo_root=tmp_path / "repo")
    with pytest.raises(SecretError) as caught:
        provider.get("nope")
    message = str(caught.value)
    assert "'nope'" in message
    assert str(secrets_dir / "nope") in message
    assert str(tmp_path / "repo" / "secrets" / "nope.age") in message
    assert provider.digest("nope") is None


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", ".hidden", ""])
def test_names_that_could_leave_the_directory_are_refused(secrets_dir: Path, name: str) -> None:
    with pytest.raises(SecretError, match="invalid secret name"):
        SecretProvider(secrets_dir=secrets_dir).get(name)


def test_age_files_are_decrypted_with_the_host_identity(age_repo: tuple[Path, Path]) -> None:
    repo, identity_file = age_repo
    provider = SecretProvider(repo_root=repo, age_identity=identity_file)
    assert provider.get("jwt-secret") == "jwt-" + SECRET_VALUE
    assert provider.get("api") == "api-value"


def test_directory_wins_over_the_repository(age_repo: tuple[Path, Path], secrets_dir: Path) -> None:
    repo, identity_file = age_repo
    write_private(secrets_dir / "jwt-secret", "from-dir")
    provider = SecretProvider(secrets_dir=secrets_dir, repo_root=repo, age_identity=identity_file)
    assert provider.get("jwt-secret") == "from-dir"


def test_age_file_for_another_identity_is_a_clear_error(
    age_repo: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, _ = age_repo
    other = write_private(tmp_path / "other.agekey", f"{pyrage.x25519.Identity.generate()}\n")
    provider = SecretProvider(repo_root=repo, age_identity=other)
    with pytest.raises(SecretError, match="cannot decrypt .*jwt-secret.age"):
        provider.get("jwt-secret")


def test_age_without_identity_asks_for_one_and_digest_is_unknown(
    age_repo: tuple[Path, Path],
) -> None:
    repo, _ = age_repo
    provider = SecretProvider(repo_root=repo)
    with pytest.raises(SecretError) as caught:
        provider.get("api")
    assert "--age-identity" in caught.value.hint
    assert provider.digest("api") is None


def test_identity_file_must_be_private_and_well_formed(
    age_repo: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, identity_file = age_repo
    identity_file.chmod(0o644)
    with pytest.raises(SecretError, match="chmod 600|group/others"):
        SecretProvider(repo_root=repo, age_identity=identity_file).get("api")
    bad = write_private(tmp_path / "bad.agekey", "AGE-SECRET-KEY-1NOTAKEY\n")
    with pytest.raises(SecretError, match="line 1") as caught:
        SecretProvider(repo_root=repo, age_identity=bad).get("api")
    assert "NOTAKEY" not in str(caught.value)


def test_digest_is_stable_changes_with_the_value_and_hides_it(
    secrets_dir: Path, age_repo: tuple[Path, Path]
) -> None:
    repo, identity_file = age_repo
    first = SecretProvider(secrets_dir=secrets_dir).digest("db-password")
    again = SecretProvider(secrets_dir=secrets_dir).digest("db-password")
    assert first == again and first is not None and len(first) == 64
    assert SECRET_VALUE not in first
    write_private(secrets_dir / "db-password", SECRET_VALUE + "-rotated")
    assert SecretProvider(secrets_dir=secrets_dir).digest("db-password") != first
    # the same value from either source digests the same: the hash follows the value, not the file
    write_private(secrets_dir / "api", "api-value")
    from_dir = SecretProvider(secrets_dir=secrets_dir).digest("api")
    from_age = SecretProvider(repo_root=repo, age_identity=identity_file).digest("api")
    assert from_dir == from_age
    # a per-installation context changes every digest
    assert SecretProvider(secrets_dir=secrets_dir, context="site-1").digest("api") != from_dir


def test_age_file_edits_are_seen_by_a_long_lived_provider(age_repo: tuple[Path, Path]) -> None:
    repo, identity_file = age_repo
    provider = SecretProvider(repo_root=repo, age_identity=identity_file)
    assert provider.get("api") == "api-value"
    recipient = pyrage.x25519.Identity.from_str(
        identity_file.read_text().splitlines()[-1]
    ).to_public()
    target = repo / "secrets" / "api.age"
    target.write_bytes(pyrage.encrypt(b"api-value-2-longer", [recipient]))
    os.utime(target, ns=(1, 1))
    assert provider.get("api") == "api-value-2-longer"
