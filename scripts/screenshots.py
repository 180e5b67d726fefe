"""Pictures of the Prefect UI after a demo run, for the README (headless Chromium).

    python scripts/screenshots.py http://127.0.0.1:4200 [DEPARTMENT]

Opens the UI of a server where the demo pipeline completed (`make demo KEEP=1`),
and saves docs/images/ui-runs.png (the flow runs), ui-flow-run.png (the pipeline run)
and ui-report.png (its report artifact). It uses the system's Chromium (Debian's
`chromium` package; CHROMIUM names another) through Playwright, and downloads no
browser. Each page must show what the picture is for, or it fails.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
# Without these, Chromium reaches for Google's services at every start.
QUIET = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


class ScreenshotError(RuntimeError):
    """A page did not show what it should."""


@dataclass(frozen=True)
class Shot:
    name: str
    path: str
    expect: str  # text the page must show


def chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/lib/chromium/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise ScreenshotError("Chromium not found: apt-get install chromium (or set CHROMIUM)")
    return found


def shots(ui: str, department: str) -> list[Shot]:
    """The pages to take, found through the API: the pipeline run and its report."""
    api = f"{ui}/api"
    runs = httpx.post(f"{api}/flow_runs/filter", json={"sort": "START_TIME_DESC"}, timeout=10)
    flows = {f["id"]: f["name"] for f in httpx.post(f"{api}/flows/filter", json={}).json()}
    pipeline = next(
        (r for r in runs.json() if flows.get(r["flow_id"]) == f"{department}-pipeline"
         and r["state"]["type"] == "COMPLETED"), None,
    )  # fmt: skip
    if pipeline is None:
        raise ScreenshotError(f"no completed {department}-pipeline run at {api}")
    key = {"artifacts": {"key": {"any_": [f"{department}-report"]}}, "sort": "CREATED_DESC"}
    report = httpx.post(f"{api}/artifacts/filter", json=key, timeout=10).json()
    if not report:
        raise ScreenshotError(f"no {department}-report artifact at {api}")
    return [
        Shot("ui-runs.png", "/runs", "Completed"),
        Shot("ui-flow-run.png", f"/runs/flow-run/{pipeline['id']}", pipeline["name"]),
        Shot("ui-report.png", f"/artifacts/artifact/{report[0]['id']}", "Total amount"),
    ]


def take(ui: str, department: str = "sales", folder: Path = IMAGES) -> list[Path]:
    from playwright.sync_api import sync_playwright

    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=QUIET)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            for shot in shots(ui, department):
                page.goto(f"{ui}{shot.path}", wait_until="networkidle", timeout=60_000)
                try:
                    page.get_by_text(shot.expect).first.wait_for(timeout=30_000)
                except Exception as exc:  # Playwright's timeout: one message per page
                    raise ScreenshotError(f"{shot.path} does not show {shot.expect!r}") from exc
                path = folder / shot.name
                page.screenshot(path=str(path))
                saved.append(path)
        finally:
            browser.close()
    return saved


if __name__ == "__main__":
    for picture in take(sys.argv[1].rstrip("/"), *sys.argv[2:3]):
        print(picture)
