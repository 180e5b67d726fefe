"""Object storage behind one small interface, so flows never branch on the backend.

Keys are relative POSIX paths such as `raw/sales/2026-01-31/orders.csv`. Every
backend offers the same operations, and every write is atomic: readers see the old
object or the new one, never half of it. Keys with a part that starts with '.' (such
as core/resume.py's records of finished work) are not listed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Protocol


class ObjectNotFoundError(KeyError):
    """The key does not exist in the store."""


class InvalidKeyError(ValueError):
    """The key is not a clean relative path."""


class ObjectStore(Protocol):
    """The operations every storage backend provides."""

    def read(self, key: str) -> bytes:
        """Return the object's bytes; raise ObjectNotFoundError if it is missing."""
        ...

    def write(self, key: str, data: bytes) -> None:
        """Store the bytes atomically: readers see the old object or the new one."""
        ...

    def exists(self, key: str) -> bool:
        """Whether the key exists."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Keys under the prefix (a folder-like path), sorted."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object if it exists."""
        ...

    def fingerprint(self, key: str) -> str | None:
        """A token that changes when, and only when, the content changes; None if missing."""
        ...

    def location(self, key: str) -> str:
        """Where a person finds the object (a path or URL)."""
        ...


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of the bytes."""
    return hashlib.sha256(data).hexdigest()


def validate_key(key: str) -> str:
    """Return the key if it is a clean relative path, else raise InvalidKeyError."""
    path = PurePosixPath(key)
    if (
        not key
        or key != str(path)
        or path.is_absolute()
        or any(part in {"", ".", ".."} for part in path.parts)
        or "\\" in key
    ):
        raise InvalidKeyError(f"not a clean relative key: {key!r}")
    return key


def join_key(*parts: str) -> str:
    """Join key parts with '/' and validate the result."""
    return validate_key("/".join(part.strip("/") for part in parts if part.strip("/")))


class LocalStore:
    """Objects as files below a root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*PurePosixPath(validate_key(key)).parts)

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file in the same directory, then rename over the
        # target: a crash mid-write leaves the old object (or none), never half a file.
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp_name).replace(path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in base.rglob("*")
            # Dot-names are not objects: in-flight temporary files, result caches.
            if path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(self.root).parts)
        )

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def fingerprint(self, key: str) -> str | None:
        try:
            return sha256_hex(self._path(key).read_bytes())
        except FileNotFoundError:
            return None

    def location(self, key: str) -> str:
        return str(self._path(key))
