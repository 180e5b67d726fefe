"""`make update` and `make department`: Copier's `copier update`, then what it changed.

Copier refuses a dirty tree and a downgrade and checks `--data` answers. `make department
NAME=x` is the same update, at the template version in use, with NAME in `departments`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .. import flows
from .checks import OpsError, run_main

ANSWERS = ".copier-answers.yml"
FLOWS = Path(flows.__file__).parent


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False).stdout


def answers() -> dict[str, Any]:
    return dict(yaml.safe_load(Path(ANSWERS).read_text()) or {})


def copier_update(args: list[str], source: str) -> int:
    """Copier's own command line, in this process so that its failures are one line."""
    from copier._cli import CopierApp
    from plumbum import ProcessExecutionError

    try:
        defaults = [] if "--defaults" in args else ["--defaults"]  # every answer kept
        _, code = CopierApp.run(["copier", "update", *defaults, *args], exit=False)
    except ValueError as exc:  # an answer the questionnaire refuses
        raise OpsError(str(exc).splitlines()[-1]) from None
    except ProcessExecutionError as exc:  # git, fetching the template
        reason = (str(exc.stderr).strip().splitlines() or [f"exit {exc.retcode}"])[-1]
        raise OpsError(f"git {exc.argv[1]} failed for the template {source}: {reason}") from None
    except Exception as exc:  # noqa: BLE001 - any other failure of Copier's, as one line
        raise OpsError(f"copier update failed: {exc}") from None
    return int(code or 0)


def main(argv: list[str]) -> int:
    try:
        before = answers()
    except FileNotFoundError:
        raise OpsError(f"{ANSWERS} not found: run this from the project's root") from None
    source = str(before.get("_src_path", ""))  # relative: copier-org/copier#1616
    if not re.match(r"^(gh:|gl:|https?://|git@|git\+)", source) and not Path(source).exists():
        raise OpsError(
            f"the template recorded in {ANSWERS} (_src_path: {source}) does not exist from "
            "here: set _src_path to an absolute path or a git URL (gh:owner/repo), commit, "
            "and retry"
        )
    if argv[:1] == ["--department"]:
        departments = [*before.get("departments", []), argv[1]]
        if argv[1] in departments[:-1]:
            raise OpsError(f"department {argv[1]!r} already exists")
        argv = ["--vcs-ref=:current:", "--data", f"departments={departments}"]
    if code := copier_update(argv, source):
        return code
    after = answers()
    changes = git("status", "--porcelain", "--untracked-files=all").splitlines()
    if not changes:
        print(f"Already up to date with the template ({after.get('_commit')}).")
        return 0
    old, new = before.get("_commit"), after.get("_commit")
    print(f"Template {old} -> {new}." if old != new else f"Template {new} (unchanged).")
    if changed := {k: v for k, v in after.items() if k[0] != "_" and v != before.get(k)}:
        print(f"Answers changed: {changed}")
    for path in (line[3:] for line in changes if "D" in line[:2] and line[:2] != "UD"):
        print(f"  removed: {path}  (get yours back: git show HEAD:{path} > {path})")
    for department in sorted(set(before["departments"]) - set(after["departments"])):
        for path in git("ls-files", str(FLOWS / department)).splitlines():
            if Path(path).exists():
                print(f"  left behind in removed department {department!r}: {path}")
        print(
            f"  its deployments stay on the server until you delete them: for stage in "
            f"{' '.join(flows.STAGES)}; do uv run prefect deployment delete "
            f"{department}-$stage/{department}-$stage; done"
        )
    if git("diff", "--name-only", "HEAD", "--", "pyproject.toml"):
        print("pyproject.toml changed: run `make install`.")
    conflicts = [line[3:] for line in changes if "U" in line[:2] or line.endswith(".rej")]
    if conflicts:
        print("Resolve the conflicts in these files, then commit:")
        print("".join(f"  {path}\n" for path in conflicts), end="")
        print("Or abandon the update: git reset --hard && git clean -fd (your commits stay).")
        return 1
    print("Review `git diff`, run `make lint test`, then commit.")
    return 0


if __name__ == "__main__":
    run_main(main)
