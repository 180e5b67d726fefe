"""docs/reference/questions.md's table of questions, generated from copier.yml.

    python scripts/questions_reference.py          # rewrite the table in the page
    python scripts/questions_reference.py --check  # exit 1 if the page is out of date

`make docs` runs the first; a test runs the second, so the page read in the
repository is always the form as it is.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
COPIER_YML = ROOT / "copier.yml"
PAGE = ROOT / "docs" / "reference" / "questions.md"
START, END = "<!-- questions:start (generated from copier.yml) -->", "<!-- questions:end -->"


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
        default = "derived" if "{" in str(default) else f"`{_cell(default)}`" if default else ""
        asked_when = question.get("when")
        help_text = _cell(question.get("help", ""))
        if asked_when:
            condition = str(asked_when).strip().removeprefix("{{").removesuffix("}}").strip()
            help_text += f" *(asked only when `{_cell(condition)}`)*"
        rows.append(
            f"| `{name}` | {question.get('type', 'str')} | {choices or ''} | {default} | "
            f"{'yes' if 'validator' in question else ''} | {help_text} |"
        )
    return "\n".join(rows)


def with_table(page: str) -> str:
    """The page with the table between its markers replaced by the current one."""
    before, rest = page.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{question_table()}\n{END}{after}"


def main(argv: list[str]) -> int:
    current = PAGE.read_text()
    wanted = with_table(current)
    if "--check" in argv:
        if current != wanted:
            print(f"{PAGE} is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
