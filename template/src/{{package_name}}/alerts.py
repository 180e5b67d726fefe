"""Failure alerts: an `on_failure` hook that posts to the project's webhook block.

`make blocks` saves the block when PIPELINE_NOTIFICATIONS__WEBHOOK_URL is set; the
payload (`{"text": ...}`) suits Slack, Mattermost and most chat webhooks.
"""

from __future__ import annotations

from typing import Any, cast

from prefect import Flow
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.schemas.objects import FlowRun, State
from prefect.logging import get_logger

from .block_names import ALERTS


def failure_message(flow_name: str, run_name: str, state: State[Any]) -> tuple[str, str]:
    """The subject and body of an alert."""
    subject = f"{flow_name} failed"
    body = (
        f"Flow run {run_name!r} of {flow_name} ended {state.name}: {state.message or 'no message'}"
    )
    return subject, body


def alert_on_failure(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """Send an alert if an alerts block exists; without one, do nothing."""
    try:
        block = cast(CustomWebhookNotificationBlock, CustomWebhookNotificationBlock.load(ALERTS))
    except ValueError:  # no such block: alerts are not configured
        return
    subject, body = failure_message(flow.name, flow_run.name, state)
    try:
        block.notify(body=body, subject=subject)
    except Exception as exc:  # noqa: BLE001 - an alert must never mask the failure itself
        get_logger(__name__).warning("could not send the failure alert: %s", exc)
