"""Content-hash manifests: which objects a partition holds, and their SHA-256."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from .storage import ObjectStore, sha256_hex


@dataclass(frozen=True)
class ManifestEntry:
    key: str
    sha256: str
    size: int


def describe(store: ObjectStore, keys: Iterable[str]) -> list[ManifestEntry]:
    """Hash each object as it is stored now."""
    entries = []
    for key in sorted(set(keys)):
        data = store.read(key)
        entries.append(ManifestEntry(key=key, sha256=sha256_hex(data), size=len(data)))
    return entries


def build_manifest(department: str, partition: str, entries: Iterable[ManifestEntry]) -> bytes:
    """Stable JSON (no timestamps): the same objects always give the same manifest."""
    document = {
        "department": department,
        "partition": partition,
        "objects": [
            {"key": e.key, "sha256": e.sha256, "size": e.size}
            for e in sorted(entries, key=lambda e: e.key)
        ],
    }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def verify_manifest(store: ObjectStore, manifest: bytes) -> list[str]:
    """Keys whose stored content no longer matches the manifest (missing or changed)."""
    problems = []
    for entry in json.loads(manifest)["objects"]:
        if (
            not store.exists(entry["key"])
            or sha256_hex(store.read(entry["key"])) != entry["sha256"]
        ):
            problems.append(entry["key"])
    return problems
