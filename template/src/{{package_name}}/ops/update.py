"""`make update` and `make department`: `copier update`, with what a person needs around it.

Before: the tree must be clean (the dirty files are listed) and the template path
recorded in .copier-answers.yml must resolve from here. Copier then runs in this
process (`--defaults`: every answer kept unless given), so a refused answer is one
line. After: the versions and answers that changed, the files left with conflicts
(exit 1 until they are resolved), and `make install` when pyproject.toml changed.

`make department NAME=x` is the same update, pinned to the template version in use
(`:current:`), with NAME added to `departments`; its deployments are then registered
if the Prefect API answers.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path
from typing import Any, Literal

import yaml

from .checks import OpsError, run_main

ANSWERS_FILE = Path(".copier-answers.yml")
CONFLICT = re.compile(rb"^(<<<<<<<|>>>>>>>)( |$)", re.MULTILINE)


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise OpsError(f"git {' '.join(args)}: {result.stderr.strip() or 'failed'}")
    return result.stdout


def answers() -> dict[str, Any]:
    try:
        return dict(yaml.safe_load(ANSWERS_FILE.read_text()))
    except FileNotFoundError:
        raise OpsError(f"{ANSWERS_FILE} not found: run this from the project's root") from None


def require_clean_tree() -> None:
    dirty = [line[3:] for line in git("status", "--porcelain").splitlines()]
    if dirty:
        hint = " (uv.lock is yours: commit it)" if "uv.lock" in dirty else ""
        raise OpsError(
            f"commit or stash these first, copier updates a clean tree only{hint}: "
            + ", ".join(dirty)
        )


def require_template(source: str) -> None:
    """A local template path must exist from here (copier-org/copier#1616)."""
    if re.match(r"^(gh:|gl:|https?://|git@|git\+)", source):
        return
    if not Path(source).expanduser().exists():
        raise OpsError(
            f"the template recorded in {ANSWERS_FILE} (_src_path: {source}) does not exist "
            "from here: set _src_path to an absolute path or a git URL (gh:owner/repo), "
            "commit, and retry"
        )


def conflicts() -> list[str]:
    """Files left with conflict markers, and rejected hunks (.rej)."""
    found = []
    for line in git("status", "--porcelain", "--untracked-files=all").splitlines():
        path = Path(line[3:].split(" -> ")[-1].strip('"'))
        if path.is_file() and (path.suffix == ".rej" or CONFLICT.search(path.read_bytes())):
            found.append(str(path))
    return sorted(found)


def update(
    data: dict[str, Any], vcs_ref: str | None, conflict: Literal["inline", "rej"]
) -> dict[str, Any]:
    """Run copier update; return the answers before it."""
    from copier import run_update

    before = answers()
    require_template(str(before.get("_src_path", "")))
    require_clean_tree()
    pyproject = Path("pyproject.toml").read_bytes()
    try:
        run_update(".", data=data, defaults=True, overwrite=True, unsafe=False,
                   vcs_ref=vcs_ref, conflict=conflict, quiet=True)  # fmt: skip
    except ValueError as exc:  # an answer the questionnaire refuses
        raise OpsError(str(exc).splitlines()[-1]) from None
    except Exception as exc:  # noqa: BLE001 - copier's own errors, as one line
        raise OpsError(f"copier update failed: {exc}; `git status` shows what it changed") from None
    after = answers()
    changed = {
        k: after.get(k) for k in after if not k.startswith("_") and after[k] != before.get(k)
    }
    old, new = before.get("_commit"), after.get("_commit")
    if old == new and not changed and not git("status", "--porcelain"):
        print(f"Already up to date with the template ({new}).")
        return before
    version = f"{old} -> {new}" if old != new else f"{new} (unchanged)"
    print(f"Template {version}" + (f"; answers changed: {changed}" if changed else "") + ".")
    if Path("pyproject.toml").read_bytes() != pyproject:
        print("pyproject.toml changed: run `make install`.")
    return before


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="update", description=__doc__)
    parser.add_argument("--vcs-ref", help="template version (a tag); default: the latest")
    parser.add_argument("--data", action="append", default=[], help="question=answer")
    parser.add_argument("--conflict", choices=("inline", "rej"), default="inline")
    parser.add_argument("--defaults", action="store_true", help="always on: answers are kept")
    parser.add_argument("--department", help="add this department, then deploy it with the "
                        "remaining arguments (those of `deploy`)")  # fmt: skip
    args, deploy_args = parser.parse_known_args(argv)
    if deploy_args and not args.department:
        parser.error(f"unrecognized arguments: {' '.join(deploy_args)}")
    data: dict[str, Any] = {}
    for item in args.data:
        key, sep, value = item.partition("=")
        if not sep:
            raise OpsError(f"--data {item!r}: expected question=answer")
        data[key] = yaml.safe_load(value)
    if args.department:
        departments = list(answers().get("departments") or [])
        if args.department in departments:
            raise OpsError(f"department {args.department!r} already exists")
        data["departments"] = [*departments, args.department]
    update(data, ":current:" if args.department else args.vcs_ref, args.conflict)
    left = conflicts()
    if left:
        print("Resolve the conflicts in these files, then commit:")
        print("\n".join(f"  {path}" for path in left))
        print("Or abandon the update: git reset --hard && git clean -fd (your commits stay).")
        return 1
    if not args.department:
        if git("status", "--porcelain"):
            print("Review `git diff`, run `make lint test`, then commit.")
        return 0
    print(f"Department {args.department!r} added. Review and commit: git add -A && git commit")
    return deploy_department(args.department, deploy_args)


def deploy_department(department: str, deploy_args: list[str]) -> int:
    """Register the new department's deployments, if the API answers."""
    from . import deploy
    from .checks import check_api

    try:
        check_api()
    except OpsError:
        print("The Prefect API does not answer: run `make deploy` once it is up.")
        return 0
    names = [
        f"{department}-{stage}" for stage in ("ingestion", "processing", "analysis", "pipeline")
    ]
    return deploy.main([*deploy_args, *(arg for name in names for arg in ("--name", name))])


if __name__ == "__main__":
    run_main(main)
