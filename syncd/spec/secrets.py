"""Secret values for ``{{secret:NAME}}`` references, read at the last moment.

Two sources, first found wins:

1. a directory on the control host holding one file per secret, named exactly ``NAME`` (one
   trailing newline is stripped, so ``echo value > NAME`` works). The directory and the file must
   not be accessible by group or others: anything else is refused before a byte is read.
2. an age-encrypted file ``secrets/NAME.age`` inside the repository (binary or ASCII-armored),
   decrypted with the host's age identity file (``age-keygen`` output: ``AGE-SECRET-KEY-1...``
   lines, ``#`` comments allowed). Teams commit ciphertext; only hosts holding the identity can
   read it.

A value never leaves this module except through :meth:`SecretProvider.get`, whose only caller is
the apply engine building a container's environment. Errors name the secret and where it was
looked for, never the value.

Digests. The spec hash must change when a secret's value changes (a new password needs new
containers) without the hash revealing the value. :meth:`SecretProvider.digest` is
``HMAC-SHA256(key=salt, msg=value)`` where ``salt = SHA-256(DIGEST_SALT_PREFIX + context)``: a
fixed string (plus an optional per-installation ``context``), so the digest is stable across
runs, processes and hosts for the same value, and changes with the value. What it reveals: the
digest is never printed; it only feeds the spec hash (itself a SHA-256 over the whole instance
spec), so recovering a value means guessing it and recomputing the entire spec hash. A strong
(random) secret cannot be recovered; a guessable one (``password1``) could be confirmed by
someone who can read container labels and the repo, which is why a ``context`` string kept off
the repo makes even that impossible.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import SecretError

DIGEST_SALT_PREFIX = b"syncd/secret-digest/v1:"
SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
REPO_SECRETS_DIR = "secrets"
AGE_SUFFIX = ".age"
# Group/other permission bits: any of them on a secret or its directory is refused.
_SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO
_MAX_SECRET_BYTES = 1 << 20


@dataclass(frozen=True)
class _CachedAge:
    mtime_ns: int
    size: int
    value: str


class SecretProvider:
    """Looks secrets up in ``secrets_dir`` first, then in ``repo_root/secrets/NAME.age``.

    Either source may be absent (None). Thread-safe: the apply engine reads secrets from several
    deployment workers at once.
    """

    def __init__(
        self,
        *,
        secrets_dir: Path | str | None = None,
        repo_root: Path | str | None = None,
        age_identity: Path | str | None = None,
        context: str = "",
    ) -> None:
        self.secrets_dir = Path(secrets_dir) if secrets_dir is not None else None
        self.repo_root = Path(repo_root) if repo_root is not None else None
        self.age_identity = Path(age_identity) if age_identity is not None else None
        self._salt = hashlib.sha256(DIGEST_SALT_PREFIX + context.encode()).digest()
        self._identities: list[object] | None = None
        self._age_cache: dict[Path, _CachedAge] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ public

    def get(self, name: str) -> str:
        """The value of secret ``name``. Raises SecretError (naming the secret and the places
        looked in, never a value) when it is missing, unsafe or cannot be decrypted."""
        value = self._lookup(name)
        if value is None:
            raise SecretError(
                f"secret {name!r} not found: looked in {self._places(name)}",
                hint=self._missing_hint(name),
            )
        return value

    def digest(self, name: str) -> str | None:
        """HMAC-SHA256 of the value (hex), stable across runs; None when this provider has no
        such secret (or holds only its ciphertext with no identity to open it). Unsafe
        permissions and undecryptable files still raise SecretError."""
        value = self._lookup(name, need_identity=False)
        if value is None:
            return None
        return hmac.new(self._salt, value.encode(), hashlib.sha256).hexdigest()

    def describe(self) -> str:
        """Where this provider looks, for messages and logs."""
        places = []
        if self.secrets_dir is not None:
            places.append(f"directory {self.secrets_dir}")
        if self.repo_root is not None:
            places.append(f"{self.repo_root / REPO_SECRETS_DIR}/*.age")
        return ", ".join(places) or "no secret sources configured"

    # ------------------------------------------------------------------ lookup

    def _lookup(self, name: str, *, need_identity: bool = True) -> str | None:
        if not SECRET_NAME.fullmatch(name):
            raise SecretError(
                f"invalid secret name {name!r}: use letters, digits, '_', '-' and '.'",
            )
        if self.secrets_dir is not None:
            value = self._from_directory(name)
            if value is not None:
                return value
        if self.repo_root is not None:
            return self._from_age_file(name, need_identity=need_identity)
        return None

    def _from_directory(self, name: str) -> str | None:
        directory = self.secrets_dir
        assert directory is not None
        try:
            dir_stat = directory.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SecretError(
                f"cannot read secrets directory {directory}: {exc.strerror}"
            ) from None
        if not stat.S_ISDIR(dir_stat.st_mode):
            raise SecretError(f"secrets directory {directory} is not a directory")
        _refuse_shared(
            dir_stat.st_mode,
            f"secrets directory {directory}",
            hint=f"chmod 700 {directory}",
            refusal=f"refusing to read secret {name!r}",
        )
        path = directory / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SecretError(f"cannot read secret {name!r} from {path}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            # fstat on the open file: the mode checked is the mode of what we read (no race).
            file_stat = os.fstat(handle.fileno())
            if not stat.S_ISREG(file_stat.st_mode):
                raise SecretError(f"secret {name!r} at {path} is not a regular file")
            _refuse_shared(
                file_stat.st_mode,
                f"secret {name!r} at {path}",
                hint=f"chmod 600 {path}",
                refusal="refusing to read it",
            )
            data = handle.read(_MAX_SECRET_BYTES + 1)
        if len(data) > _MAX_SECRET_BYTES:
            raise SecretError(f"secret {name!r} at {path} is larger than 1 MiB")
        return _text(name, str(path), data)

    def _from_age_file(self, name: str, *, need_identity: bool) -> str | None:
        root = self.repo_root
        assert root is not None
        path = root / REPO_SECRETS_DIR / f"{name}{AGE_SUFFIX}"
        try:
            file_stat = path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SecretError(f"cannot read secret {name!r} from {path}: {exc.strerror}") from None
        resolved = path.resolve()
        if not resolved.is_relative_to(root.resolve()):
            raise SecretError(f"secret {name!r}: {path} points outside the repository")
        if self.age_identity is None:
            if not need_identity:
                return None
            raise SecretError(
                f"secret {name!r} is age-encrypted in {path} but no age identity is configured",
                hint="pass --age-identity FILE (the host's age-keygen identity file)",
            )
        with self._lock:
            cached = self._age_cache.get(resolved)
            if cached and (cached.mtime_ns, cached.size) == (
                file_stat.st_mtime_ns,
                file_stat.st_size,
            ):
                return cached.value
        ciphertext = resolved.read_bytes()
        import pyrage  # imported here: only hosts with age-encrypted secrets pay for it

        try:
            plaintext = pyrage.decrypt(ciphertext, self._load_identities())
        except pyrage.DecryptError as exc:
            raise SecretError(
                f"secret {name!r}: cannot decrypt {path} with identity {self.age_identity}: {exc}",
                hint="encrypt the file to this host's public key (age -r age1... -o ...)",
            ) from None
        value = _text(name, str(path), plaintext)
        with self._lock:
            self._age_cache[resolved] = _CachedAge(file_stat.st_mtime_ns, file_stat.st_size, value)
        return value

    def _load_identities(self) -> list[object]:
        with self._lock:
            if self._identities is not None:
                return self._identities
            identity_file = self.age_identity
            assert identity_file is not None
            import pyrage

            try:
                fd = os.open(identity_file, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise SecretError(
                    f"cannot read age identity {identity_file}: {exc.strerror}"
                ) from None
            with os.fdopen(fd, "rb") as handle:
                _refuse_shared(
                    os.fstat(handle.fileno()).st_mode,
                    f"age identity {identity_file}",
                    hint=f"chmod 600 {identity_file}",
                )
                text = handle.read().decode("utf-8", errors="replace")
            identities: list[object] = []
            for number, line in enumerate(text.splitlines(), start=1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                try:
                    identities.append(pyrage.x25519.Identity.from_str(line))
                except pyrage.IdentityError:
                    # never echo the line: it is key material
                    raise SecretError(
                        f"age identity {identity_file}: line {number} is not an "
                        "AGE-SECRET-KEY-1... identity"
                    ) from None
            if not identities:
                raise SecretError(f"age identity {identity_file} holds no AGE-SECRET-KEY-1... line")
            self._identities = identities
            return identities

    # ------------------------------------------------------------------ messages

    def _places(self, name: str) -> str:
        places = []
        if self.secrets_dir is not None:
            places.append(str(self.secrets_dir / name))
        if self.repo_root is not None:
            places.append(str(self.repo_root / REPO_SECRETS_DIR / f"{name}{AGE_SUFFIX}"))
        return " and ".join(places) if places else "nowhere (no secret sources configured)"

    def _missing_hint(self, name: str) -> str:
        if self.secrets_dir is None and self.repo_root is None:
            return "pass --secrets-dir DIR or commit secrets/NAME.age"
        return f"create {name} in the secrets directory (chmod 600) or commit secrets/{name}.age"


def _refuse_shared(mode: int, subject: str, *, hint: str, refusal: str = "") -> None:
    """SecretError when group or others may touch ``subject``: a secret must be the owner's alone."""
    if mode & _SHARED_BITS:
        then = f"; {refusal}" if refusal else ""
        raise SecretError(
            f"{subject} is accessible by group/others (mode {stat.filemode(mode)}){then}",
            hint=hint,
        )


def _text(name: str, where: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"secret {name!r} in {where} is not UTF-8 text") from None
    return text.removesuffix("\n").removesuffix("\r")
