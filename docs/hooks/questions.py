"""MkDocs hook: render the question reference from copier.yml at build time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MARKER = "<!-- questions -->"
COPIER_YML = Path(__file__).resolve().parents[2] / "copier.yml"


def _cell(value: Any) -> str:
    text = " ".join(str(value).split())
    return text.replace("|", "\\|")


def question_table(copier_yml: Path = COPIER_YML) -> str:
    """A Markdown table of every asked question, in form order."""
    config = yaml.safe_load(copier_yml.read_text())
    rows = [
        "| Question | Type | Choices | Default | Validated | What it changes |",
        "|---|---|---|---|---|---|",
    ]
    for name, question in config.items():
        if name.startswith("_") or not isinstance(question, dict):
            continue
        if question.get("when") is False:
            continue
        choices = question.get("choices")
        if isinstance(choices, dict):
            choices = ", ".join(f"`{value}`" for value in choices.values())
        elif isinstance(choices, list):
            choices = ", ".join(f"`{value}`" for value in choices)
        default = question.get("default", "")
        default = "derived" if "{%" in str(default) else f"`{_cell(default)}`" if default else ""
        asked_when = question.get("when")
        help_text = _cell(question.get("help", ""))
        if asked_when:
            help_text += " *(asked only for image pools)*"
        rows.append(
            f"| `{name}` | {question.get('type', 'str')} | {choices or ''} | {default} | "
            f"{'yes' if 'validator' in question else ''} | {help_text} |"
        )
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, question_table())
    return markdown
