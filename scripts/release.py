"""Tag a release: `make release VERSION=X.Y.Z`.

`copier copy` renders the newest `vX.Y.Z` tag and `copier update` moves between
tags, so a tag must never point at a commit whose CHANGELOG does not describe it.
This refuses, with one line saying why, unless the tree is clean, the version is
newer than every tag, and CHANGELOG.md has its `## [X.Y.Z] - YYYY-MM-DD` entry.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


class ReleaseError(Exception):
    """A reason not to tag, for the person running the release."""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def version_key(version: str) -> tuple[int, int, int]:
    match = SEMVER.match(version)
    if match is None:
        raise ReleaseError(f"{version!r} is not a version like 1.2.3")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def changelog_versions(changelog: str) -> list[str]:
    """The released versions CHANGELOG.md describes, newest first."""
    return re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.M)


def check_release(repo: Path, version: str) -> None:
    key = version_key(version)
    if git(repo, "status", "--porcelain"):
        raise ReleaseError("the working tree has uncommitted changes: commit them first")
    tags = [tag.removeprefix("v") for tag in git(repo, "tag", "--list", "v*").split()]
    if version in tags:
        raise ReleaseError(f"v{version} is already tagged")
    newest = max((t for t in tags if SEMVER.match(t)), key=version_key, default=None)
    if newest is not None and key <= version_key(newest):
        raise ReleaseError(f"{version} is not newer than the latest release v{newest}")
    changelog_path = repo / "CHANGELOG.md"
    changelog = changelog_path.read_text() if changelog_path.exists() else ""
    versions = changelog_versions(changelog)
    if version not in versions:
        raise ReleaseError(
            f"CHANGELOG.md has no '## [{version}] - YYYY-MM-DD' entry: "
            "move the [Unreleased] notes under it first"
        )
    if versions[0] != version:
        raise ReleaseError(f"CHANGELOG.md's newest entry is {versions[0]}, not {version}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help="the new version, e.g. 0.3.0")
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    version = args.version.removeprefix("v")
    try:
        check_release(args.repo, version)
    except ReleaseError as error:
        print(f"error: not tagged: {error}", file=sys.stderr)
        return 1
    git(args.repo, "tag", "--annotate", f"v{version}", "--message", f"Release {version}")
    print(f"Tagged v{version}. Publish it with: git push origin v{version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
