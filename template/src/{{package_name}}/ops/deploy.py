"""`make deploy`: check the API and the work pool, then register the deployments.

Runs `prefect --no-prompt deploy --all` (or `--name` for each name given), so
prefect.yaml stays the single description of what is deployed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from prefect.client.orchestration import get_client

from ._cli import require_api, run_main
from .blocks import work_pool_change


def deploy_command(names: list[str], prefect_file: str) -> list[str]:
    command = [str(Path(sys.executable).with_name("prefect")), "--no-prompt", "deploy"]
    command += ["--prefect-file", prefect_file]
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
    parser.add_argument("--prefect-file", default="prefect.yaml")
    parser.add_argument("--name", action="append", default=[], help="deploy only this one")
    args = parser.parse_args(argv)

    require_api()
    with get_client(sync_client=True) as client:
        change = work_pool_change(client, args.pool, args.pool_type)
        if change.action != "unchanged":
            print(change.describe())
            change.apply()
    return subprocess.run(deploy_command(args.name, args.prefect_file), check=False).returncode


if __name__ == "__main__":
    run_main(main)
