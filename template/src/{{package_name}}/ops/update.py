"""`make update`: bring in the latest template version with `copier update`.

Refuses a dirty git tree (so the update is one reviewable diff), runs
`copier update --conflict inline` with the given arguments (default:
`--defaults`, keeping every answer), then lists the files where conflict
markers or `.rej` files were left to resolve.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from ._cli import OpsError, run_main

ANSWERS_FILE = Path(".copier-answers.yml")
CONFLICT = re.compile(rb"^(<<<<<<<|>>>>>>>)( |$)", re.MULTILINE)


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise OpsError(f"git {' '.join(args)}: {result.stderr.strip() or 'failed'}")
    return result.stdout


def changed_files() -> list[Path]:
    """Modified and untracked files, as git sees them."""
    paths = []
    for line in git("status", "--porcelain", "--untracked-files=all").splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        if Path(path).is_file():
            paths.append(Path(path))
    return paths


def leftovers(paths: list[Path]) -> list[str]:
    """Files with conflict markers, and .rej files."""
    found = []
    for path in paths:
        if path.suffix == ".rej" or CONFLICT.search(path.read_bytes()):
            found.append(str(path))
    return sorted(found)


def template_commit() -> str:
    try:
        return str(yaml.safe_load(ANSWERS_FILE.read_text()).get("_commit", "?"))
    except FileNotFoundError:
        raise OpsError(f"{ANSWERS_FILE} not found: run this from the project's root") from None


def main(argv: list[str]) -> int:
    if git("status", "--porcelain"):
        raise OpsError("commit or stash your changes first: copier update needs a clean tree")
    before = template_commit()
    copier = Path(sys.executable).with_name("copier")
    if not copier.exists():
        raise OpsError("copier is not installed in this environment: run `make install`")
    command = [str(copier), "update", "--conflict", "inline", *(argv or ["--defaults"])]
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise OpsError("copier update failed (see above); `git status` shows what it changed")
    after = template_commit()
    unresolved = leftovers(changed_files())
    if unresolved:
        print("Resolve the conflicts in these files, then commit:")
        for path in unresolved:
            print(f"  {path}")
        return 1
    if before == after and not changed_files():
        print(f"Already up to date with the template ({after}).")
    else:
        print(f"Updated from {before} to {after}. Review `git diff`, run `make lint test`, commit.")
    return 0


if __name__ == "__main__":
    run_main(main)
