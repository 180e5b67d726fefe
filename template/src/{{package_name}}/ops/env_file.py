"""`make up` (self-hosted): make sure .env holds the stack's secrets.

On first use .env is created from .env.example, and every secret that is still
empty gets a random value: the PostgreSQL password and the API's basic-auth
credentials. Existing values are never changed, so the database keeps working.
"""

from __future__ import annotations

import argparse
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from ._cli import OpsError, run_main

GENERATED: dict[str, Callable[[], str]] = {
    "POSTGRES_PASSWORD": lambda: secrets.token_urlsafe(24),
    "PREFECT_API_AUTH_STRING": lambda: f"admin:{secrets.token_urlsafe(24)}",
}
ASSIGNMENT = re.compile(r"^(?P<key>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


def fill_secrets(text: str, generated: dict[str, Callable[[], str]]) -> tuple[str, list[str]]:
    """Give every empty or missing key of `generated` a value; return the text and the keys set."""
    lines = text.splitlines()
    filled: list[str] = []
    seen: set[str] = set()
    for index, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match is None or match["key"] not in generated:
            continue
        seen.add(match["key"])
        if not match["value"].strip():
            lines[index] = f"{match['key']}={generated[match['key']]()}"
            filled.append(match["key"])
    for key in generated:
        if key not in seen:
            lines.append(f"{key}={generated[key]()}")
            filled.append(key)
    return "\n".join(lines) + "\n", filled


def ensure_env(env_file: Path, example: Path) -> list[str]:
    """Create or complete `env_file`; return the keys that were generated."""
    if env_file.exists():
        text = env_file.read_text()
    elif example.exists():
        text = example.read_text()
    else:
        raise OpsError(f"neither {env_file} nor {example} exists: run this from the project root")
    updated, filled = fill_secrets(text, GENERATED)
    if filled:
        env_file.write_text(updated)
        env_file.chmod(0o600)
    return filled


def docker_gid(socket: Path = Path("/var/run/docker.sock")) -> str:
    """The group that owns the Docker socket (the worker container joins it)."""
    try:
        return str(socket.stat().st_gid)
    except FileNotFoundError:
        raise OpsError(f"{socket} not found: is Docker running?") from None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="env_file", description=__doc__)
    parser.add_argument("--env-file", type=Path, default=Path(".env"))
    parser.add_argument("--example", type=Path, default=Path(".env.example"))
    parser.add_argument("--docker-gid", action="store_true", help="also record DOCKER_GID")
    args = parser.parse_args(argv)
    if args.docker_gid:
        gid = docker_gid()
        GENERATED["DOCKER_GID"] = lambda: gid
    filled = ensure_env(args.env_file, args.example)
    if filled:
        print(f"Generated {', '.join(filled)} in {args.env_file} (git-ignored; keep it).")
    return 0


if __name__ == "__main__":
    run_main(main)
