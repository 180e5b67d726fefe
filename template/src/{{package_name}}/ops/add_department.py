"""`make department NAME=...`: add a department, rendered from the template's own skeleton.

Appends NAME to `departments` through `copier update`, pinned to the template
version already in use (`--vcs-ref :current:`), so the only changes are the new
flow package and its deployments in prefect.yaml; later `copier update` runs keep
every department up to date. Then, if the Prefect API answers, the new department's
deployments are registered.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import subprocess
import sys
from pathlib import Path

import yaml

from . import deploy
from ._cli import OpsError, require_api, run_main

ANSWERS_FILE = Path(".copier-answers.yml")
SLUG = re.compile(r"^[a-z][a-z0-9_]*$")
STAGES = ("ingestion", "processing", "analysis", "pipeline")


def check_name(name: str, existing: list[str]) -> None:
    """Raise OpsError unless `name` is a new, valid department slug."""
    if not SLUG.match(name) or name.endswith("_") or "__" in name:
        raise OpsError(
            f"{name!r} is not a valid department slug: lowercase letters, digits and single "
            "'_', starting with a letter"
        )
    if len(name) > 30:
        raise OpsError(f"{name!r} is too long: at most 30 characters")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise OpsError(f"{name!r} is a Python keyword")
    if name in existing:
        raise OpsError(f"department {name!r} already exists")


def current_departments() -> list[str]:
    try:
        answers = yaml.safe_load(ANSWERS_FILE.read_text())
    except FileNotFoundError:
        raise OpsError(f"{ANSWERS_FILE} not found: run this from the project's root") from None
    return list(answers.get("departments") or [])


def require_clean_git_tree() -> None:
    result = subprocess.run(
        ["git", "status", "--porcelain"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise OpsError("not a git repository: copier needs one (git init && git commit)")
    if result.stdout.strip():
        raise OpsError("commit or stash your changes first: copier updates a clean tree only")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="add_department", description=__doc__)
    parser.add_argument("name", help="the new department's slug, e.g. marketing")
    parser.add_argument("--pool", required=True)
    parser.add_argument("--pool-type", required=True)
    parser.add_argument("--base-job-template", default=None)
    args = parser.parse_args(argv)

    departments = current_departments()
    check_name(args.name, departments)
    require_clean_git_tree()
    copier = Path(sys.executable).with_name("copier")
    if not copier.exists():
        raise OpsError("copier is not installed in this environment: run `make install`")
    command = [
        str(copier), "update", "--defaults", "--vcs-ref", ":current:",
        "--data", f"departments={json.dumps([*departments, args.name])}",
    ]  # fmt: skip
    if subprocess.run(command, check=False).returncode != 0:
        raise OpsError("copier update failed (see above); review `git status` before retrying")
    if args.name not in current_departments():
        raise OpsError(f"copier did not record department {args.name!r}; see its output above")
    print(f"Department {args.name!r} added. Review and commit: git add -A && git commit")

    try:
        require_api()
    except OpsError:
        print("The Prefect API is not reachable: run `make deploy` once it is up.")
        return 0
    names = [f"{args.name}-{stage}" for stage in STAGES]
    deploy_args = ["--pool", args.pool, "--pool-type", args.pool_type]
    if args.base_job_template:
        deploy_args += ["--base-job-template", args.base_job_template]
    return deploy.main([*deploy_args, *(arg for name in names for arg in ("--name", name))])


if __name__ == "__main__":
    run_main(main)
