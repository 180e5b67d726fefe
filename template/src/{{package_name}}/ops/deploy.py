"""`make deploy`: check the API and the work pool, then register the deployments.

Runs `prefect --no-prompt deploy --all` (or `--name` for each name given), so
prefect.yaml stays the single description of what is deployed.

Image pools have two targets. `prod` deploys prefect.yaml as it is: build the
image, push it, register. `dev` deploys a copy without the push step whose
deployments use the image the local engine just built (.run/prefect.dev.yaml,
written on each deploy and never edited by hand).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from prefect.client.orchestration import get_client

from ._cli import OpsError, require_api, run_main
from .blocks import load_template, work_pool_change

DEV_PULL_POLICY = {"docker": "Never", "kubernetes": "IfNotPresent"}


def dev_config(config: dict[str, Any], pool_type: str) -> dict[str, Any]:
    """prefect.yaml for the dev target: no push, and the locally built image."""
    config = {key: value for key, value in config.items() if key != "push"}
    for deployment in config.get("deployments", []):
        deployment.pop("push", None)
        job_variables = deployment.setdefault("work_pool", {}).setdefault("job_variables", {})
        job_variables["image_pull_policy"] = DEV_PULL_POLICY.get(pool_type, "IfNotPresent")
    return config


def prefect_file_for(target: str, source: Path, pool_type: str) -> Path:
    if target == "prod":
        return source
    config = yaml.safe_load(source.read_text())
    if not config.get("build"):
        raise OpsError(f"{source} builds no image: deploy it without --target")
    destination = Path(".run") / f"{source.stem}.dev.yaml"
    destination.parent.mkdir(exist_ok=True)
    header = f"# Generated from {source} by `make deploy` (TARGET=dev): edit {source} instead.\n"
    destination.write_text(header + yaml.safe_dump(dev_config(config, pool_type), sort_keys=False))
    return destination


def deploy_command(names: list[str], prefect_file: Path) -> list[str]:
    command = [str(Path(sys.executable).with_name("prefect")), "--no-prompt", "deploy"]
    command += ["--prefect-file", str(prefect_file)]
    if names:
        for name in names:
            command += ["--name", name]
    else:
        command.append("--all")
    return command


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="deploy", description=__doc__)
    parser.add_argument("--pool", required=True, help="work pool the deployments target")
    parser.add_argument("--pool-type", required=True, help="its type, to create it if missing")
    parser.add_argument("--base-job-template", type=Path, help="the pool's template (JSON)")
    parser.add_argument("--prefect-file", type=Path, default=Path("prefect.yaml"))
    parser.add_argument("--target", choices=("dev", "prod"), default="prod")
    parser.add_argument("--name", action="append", default=[], help="deploy only this one")
    args = parser.parse_args(argv)

    prefect_file = prefect_file_for(args.target, args.prefect_file, args.pool_type)
    require_api()
    with get_client(sync_client=True) as client:
        template = load_template(args.base_job_template)
        change = work_pool_change(client, args.pool, args.pool_type, template)
        if change.action != "unchanged":
            print(change.describe())
            change.apply()
    return subprocess.run(deploy_command(args.name, prefect_file), check=False).returncode


if __name__ == "__main__":
    run_main(main)
