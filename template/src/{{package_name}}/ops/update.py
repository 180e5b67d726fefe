"""`make update` and `make department`: `copier update`, and nothing of yours lost in silence.

Before: the tree must be clean (the dirty files are listed) and the template recorded
in .copier-answers.yml must resolve from here. The files you changed are found by
rendering the template version in use with your answers and comparing it with your
last commit. Copier then runs in this process (`--defaults`: every answer kept unless
given), so a refused answer is one line. After: the versions and the answers that
changed; each of your changed files the update removed or left with conflicts, with
the command that gets your version back; files left in a removed department; and
`make install` when pyproject.toml changed. It exits 1 while conflicts remain. Fetching
the template cannot hang: git gives up on a transfer that stalls for STALL_SECONDS.

`make department NAME=x` is the same update, pinned to the template version in use,
with NAME added to `departments` (the Makefile then runs `make deploy` if the API answers).
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml

from .checks import OpsError, run_main

ANSWERS_FILE = Path(".copier-answers.yml")
CONFLICT = re.compile(rb"^(<<<<<<<|>>>>>>>)( |$)", re.MULTILINE)
FLOWS = Path("src") / (__package__ or __name__).split(".", 1)[0] / "flows"  # also under -m
STALL_SECONDS = 30


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


def bound_git_transfers() -> None:
    """Git, which Copier runs to fetch the template, gives up on an HTTP transfer under
    1 kB/s for STALL_SECONDS, and on an SSH host that stops answering unless you chose
    your own ssh command (GIT_SSH, GIT_SSH_COMMAND, core.sshCommand)."""
    from plumbum import local  # Copier's runner: it copied the environment when imported

    bounds = {"GIT_HTTP_LOW_SPEED_LIMIT": "1000", "GIT_HTTP_LOW_SPEED_TIME": str(STALL_SECONDS)}
    own_ssh = subprocess.run(["git", "config", "core.sshCommand"], capture_output=True).stdout
    if not own_ssh and not {"GIT_SSH", "GIT_SSH_COMMAND"} & os.environ.keys():
        bounds["GIT_SSH_COMMAND"] = (
            f"ssh -o ConnectTimeout={STALL_SECONDS} -o ServerAliveInterval=10 "
            f"-o ServerAliveCountMax={STALL_SECONDS // 10}"
        )
    for name, value in bounds.items():
        local.env[name] = os.environ.setdefault(name, value)


@contextlib.contextmanager
def copier_errors(source: str) -> Iterator[None]:
    """Copier's failures as one line: a refused answer, a git command that failed (a
    template that cannot be fetched: git's last line), Copier's own refusals."""
    from plumbum import ProcessExecutionError

    try:
        yield
    except ValueError as exc:  # an answer the questionnaire refuses
        raise OpsError(str(exc).splitlines()[-1]) from None
    except ProcessExecutionError as exc:
        command = " ".join(str(arg) for arg in exc.argv[1:2])  # e.g. clone
        reason = (str(exc.stderr).strip().splitlines() or [f"exit {exc.retcode}"])[-1]
        raise OpsError(f"git {command} failed for the template {source}: {reason}") from None
    except Exception as exc:  # noqa: BLE001 - copier's own errors (a downgrade...), as one line
        raise OpsError(f"copier update refused: {exc}") from None


def your_changes(before: dict[str, Any]) -> set[str]:
    """Committed files that differ from what the template version in use renders."""
    from copier import run_copy

    tracked = set(git("ls-files").splitlines())
    with tempfile.TemporaryDirectory() as folder:
        data = {k: v for k, v in before.items() if not k.startswith("_")}
        with copier_errors(str(before["_src_path"])):
            run_copy(str(before["_src_path"]), folder, data=data, vcs_ref=str(before["_commit"]),
                     defaults=True, unsafe=False, quiet=True)  # fmt: skip
        rendered = Path(folder)
        return {
            path for path in tracked
            if (rendered / path).is_file() and not filecmp.cmp(path, rendered / path, False)
        }  # fmt: skip


def conflicts() -> list[str]:
    """Files left with conflict markers, and rejected hunks (.rej)."""
    found = []
    for line in git("status", "--porcelain", "--untracked-files=all").splitlines():
        path = Path(line[3:].split(" -> ")[-1].strip('"'))
        if path.is_file() and (path.suffix == ".rej" or CONFLICT.search(path.read_bytes())):
            found.append(str(path))
    return sorted(found)


def update(data: dict[str, Any], vcs_ref: str | None, conflict: Literal["inline", "rej"]) -> int:
    """Run copier update and report; the exit status (1 while conflicts remain)."""
    from copier import VcsRef, run_update

    before = answers()
    require_template(str(before.get("_src_path", "")))
    require_clean_tree()
    bound_git_transfers()
    changed_by_you = your_changes(before)
    pyproject = Path("pyproject.toml").read_bytes()
    with copier_errors(str(before["_src_path"])):
        ref = VcsRef.CURRENT if vcs_ref == VcsRef.CURRENT.value else vcs_ref
        run_update(".", data=data, defaults=True, overwrite=True, unsafe=False,
                   vcs_ref=ref, conflict=conflict, quiet=True)  # fmt: skip
    after = answers()
    answers_changed = {
        k: after.get(k) for k in after if not k.startswith("_") and after[k] != before.get(k)
    }
    old, new = before.get("_commit"), after.get("_commit")
    if old == new and not answers_changed and not git("status", "--porcelain"):
        print(f"Already up to date with the template ({new}).")
        return 0
    version = f"{old} -> {new}" if old != new else f"{new} (unchanged)"
    and_answers = f"; answers changed: {answers_changed}" if answers_changed else ""
    print(f"Template {version}{and_answers}.")
    left = conflicts()
    removed = sorted(path for path in changed_by_you if not Path(path).exists())
    for path in removed:
        print(f"  removed, with your changes: {path}  (get it back: git show HEAD:{path} > {path})")
    gone = set(before.get("departments") or []) - set(after.get("departments") or [])
    for department in sorted(gone):
        leftovers = sorted(str(p) for p in (FLOWS / department).rglob("*") if p.is_file())
        for path in leftovers:
            print(f"  left behind in removed department {department!r}: {path}")
        print(f"  remove {department!r}'s deployments from the server: make deploy PRUNE=1")
    if Path("pyproject.toml").read_bytes() != pyproject:
        print("pyproject.toml changed: run `make install`.")
    if left:
        print("Resolve the conflicts in these files, then commit:")
        print("\n".join(f"  {path}" for path in left))
        print("Or abandon the update: git reset --hard && git clean -fd (your commits stay).")
        return 1
    print("Review `git diff`, run `make lint test`, then commit.")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="update", description=__doc__)
    parser.add_argument("--vcs-ref", help="template version (a tag); default: the latest")
    parser.add_argument("--data", action="append", default=[], help="question=answer")
    parser.add_argument("--conflict", choices=("inline", "rej"), default="inline")
    parser.add_argument("--defaults", action="store_true", help="always on: answers are kept")
    parser.add_argument("--department", help="add this department")
    args = parser.parse_args(argv)
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
    status = update(data, ":current:" if args.department else args.vcs_ref, args.conflict)
    if status == 0 and args.department:
        print(f"Department {args.department!r} added. Review and commit: git add -A && git commit")
    return status


if __name__ == "__main__":
    run_main(main)
