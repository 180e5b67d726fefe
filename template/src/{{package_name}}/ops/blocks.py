"""`make blocks`: create or update, idempotently, what the flows need on the Prefect API.

- the work pool the deployments target, with its type's default base job template;
- Secret `<prefix>-fetch-auth-token` from PIPELINE_FETCH__AUTH_TOKEN, when set;
- Custom Webhook `<prefix>-alerts` from PIPELINE_NOTIFICATIONS__WEBHOOK_URL, when set
  (the `on_failure` hook of every pipeline posts to it).

Values come from the environment or .env (see .env.example). `--dry-run` prints
what would change and changes nothing. Secret values are never printed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.blocks.system import Secret
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectNotFound
from prefect.types import SecretDict
from prefect.utilities.asyncutils import run_coro_as_sync
from prefect.workers.utilities import get_default_base_job_template_for_infrastructure_type
from pydantic import SecretStr

from ..runtime import ALERTS_BLOCK, FETCH_TOKEN_BLOCK
from ..settings import get_settings
from ._cli import OpsError, require_api, run_main

Action = Literal["create", "update", "unchanged"]


@dataclass(frozen=True)
class Change:
    """One thing the script manages, what it would do to it, and how."""

    kind: str
    name: str
    action: Action
    apply: Callable[[], None]

    def describe(self) -> str:
        return f"{self.action:<9} {self.kind} {self.name!r}"


def _nothing() -> None:
    return None


def work_pool_change(client: SyncPrefectClient, name: str, pool_type: str) -> Change:
    """Create the pool if missing; refuse a pool of another type."""
    try:
        pool = client.read_work_pool(name)
    except ObjectNotFound:
        pool = None
    if pool is not None:
        if pool.type != pool_type:
            raise OpsError(
                f"work pool {name!r} exists with type {pool.type!r}, but this project "
                f"deploys to a {pool_type!r} pool: delete it (`prefect work-pool delete "
                f"{name}`) or rename work_pool_name"
            )
        return Change("work pool", name, "unchanged", _nothing)

    def create() -> None:
        template = run_coro_as_sync(
            get_default_base_job_template_for_infrastructure_type(pool_type)
        )
        if template is None:
            raise OpsError(
                f"no base job template for pool type {pool_type!r}: "
                "is its Prefect integration installed?"
            )
        client.create_work_pool(
            WorkPoolCreate(name=name, type=pool_type, base_job_template=template)
        )

    return Change("work pool", name, "create", create)


def _load_or_none(block_type: Any, name: str) -> Any:
    try:
        return block_type.load(name)
    except ValueError:  # Prefect raises ValueError for a missing block
        return None


def secret_change(name: str, value: SecretStr | None) -> Change | None:
    """A Secret block holding the value; None when the setting is unset."""
    if value is None:
        return None
    existing = _load_or_none(Secret, name)
    if existing is not None and existing.get() == value.get_secret_value():
        return Change("secret block", name, "unchanged", _nothing)

    def save() -> None:
        Secret(value=value).save(name, overwrite=True)

    return Change("secret block", name, "update" if existing else "create", save)


def webhook_change(name: str, url: SecretStr | None) -> Change | None:
    """A Custom Webhook block; the URL is kept in the block's secrets."""
    if url is None:
        return None
    desired = CustomWebhookNotificationBlock(
        name=name,
        url="{{webhook_url}}",
        json_data={"text": "{{subject}}: {{body}}"},
        secrets=SecretDict({"webhook_url": url.get_secret_value()}),
        headers=None,
        cookies=None,
    )
    existing = _load_or_none(CustomWebhookNotificationBlock, name)
    if (
        existing is not None
        and existing.json_data == desired.json_data
        and existing.secrets.get_secret_value() == desired.secrets.get_secret_value()
    ):
        return Change("webhook block", name, "unchanged", _nothing)

    def save() -> None:
        desired.save(name, overwrite=True)

    return Change("webhook block", name, "update" if existing else "create", save)


def plan(client: SyncPrefectClient, pool: str, pool_type: str) -> list[Change]:
    settings = get_settings()
    changes = [
        work_pool_change(client, pool, pool_type),
        secret_change(FETCH_TOKEN_BLOCK, settings.fetch.auth_token),
        webhook_change(ALERTS_BLOCK, settings.notifications.webhook_url),
    ]
    return [change for change in changes if change is not None]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="blocks", description=__doc__)
    parser.add_argument("--pool", required=True, help="work pool name")
    parser.add_argument("--pool-type", required=True, help="work pool type")
    parser.add_argument("--dry-run", action="store_true", help="show changes, apply nothing")
    args = parser.parse_args(argv)

    url = require_api()
    with get_client(sync_client=True) as client:
        changes = plan(client, args.pool, args.pool_type)
        print(f"{'Would apply' if args.dry_run else 'Applying'} to {url}:")
        for change in changes:
            print(f"  {change.describe()}")
            if not args.dry_run:
                change.apply()
    pending = sum(change.action != "unchanged" for change in changes)
    print(f"{pending} change(s) {'pending' if args.dry_run else 'applied'}.")
    return 0


if __name__ == "__main__":
    run_main(main)
