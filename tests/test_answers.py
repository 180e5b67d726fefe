"""Wrong answers are refused with a readable message and write nothing; odd names work."""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

INVALID: list[tuple[dict[str, Any], str]] = [
    ({"project_name": "   "}, "cannot be empty"),
    ({"project_name": "x" * 81}, "under 80"),
    ({"project_name": "日本語のプロジェクト"}, "No distribution name could be derived"),
    ({"project_slug": "Bad Slug"}, "not a valid distribution name"),
    ({"project_slug": "trailing-"}, "not a valid distribution name"),
    ({"project_slug": "a--b"}, "not a valid distribution name"),
    ({"project_slug": "prefect"}, '"prefect" is taken: a standard-library module, a dependency'),
    ({"project_name": "Tests"}, "or one of the project's own folders (src, tests, scripts)"),
    ({"package_name": "2fast"}, "not a valid package name"),
    ({"package_name": "My-Pkg"}, "not a valid package name"),
    ({"package_name": "class"}, "shadow a Python keyword"),
    ({"package_name": "json"}, "standard-library module"),
    ({"package_name": "asyncio"}, "standard-library module"),
    ({"package_name": "prefect"}, "a dependency"),
    ({"package_name": "pydantic"}, "a dependency"),
    ({"package_name": "_private"}, "reads as private"),
    ({"description": ""}, "cannot be empty"),
    ({"description": "two\nlines"}, "one line"),
    ({"author_name": ""}, "cannot be empty"),
    ({"author_email": "not-an-email"}, "not an e-mail address"),
    ({"author_email": "a@b"}, "not an e-mail address"),
    ({"python_version": "3.9"}, "Invalid choice"),
    ({"prefect_backend": "kubernetes"}, "Invalid choice"),
    ({"storage": "ftp"}, "Invalid choice"),
    ({"work_pool_type": "ecs"}, "Invalid choice"),
    ({"work_pool_name": "bad name"}, "not a usable work-pool name"),
    ({"work_pool_name": "-lead"}, "not a usable work-pool name"),
    ({"work_pool_type": "docker", "image_name": "ghcr.io/acme/app:1.0"}, "Leave the tag out"),
    ({"work_pool_type": "docker", "image_name": "ghcr.io/Acme/App"}, "not a valid image reference"),
    ({"work_pool_type": "kubernetes", "image_name": "a//b"}, "not a valid image reference"),
    ({"departments": "sales"}, "must be a YAML list"),
    ({"departments": "{a: b}"}, "must be a YAML list"),
    ({"departments": "[]"}, "at least one department"),
    ({"departments": "[sales, sales]"}, "must be unique"),
    ({"departments": "[Sales]"}, "not a valid department slug"),
    ({"departments": "[1sales]"}, "not a valid department slug"),
    ({"departments": "[sales-eu]"}, "not a valid department slug"),
    ({"departments": "[class]"}, "Python keyword"),
    ({"departments": "[sales_]"}, "no trailing or double underscores"),
    ({"departments": "[" + "a" * 31 + "]"}, "too long"),
    ({"ci": "gitlab"}, "Invalid choice"),
    ({"schedule": "hourly"}, "Invalid choice"),
    ({"schedule_cron": "0 6 * *"}, "has five fields"),
    ({"schedule_cron": "0 6 * * * *"}, "has five fields"),
    ({"schedule_cron": "0 6 * * mon;rm"}, '"mon;rm" is not a cron field'),
    ({"schedule_cron": "61 * * * *"}, '"61" is out of range for the minute (0-59)'),
    ({"schedule_cron": "0 24 * * *"}, '"24" is out of range for the hour (0-23)'),
    ({"schedule_cron": "0 6 0 * *"}, '"0" is out of range for the day of the month (1-31)'),
    ({"schedule_cron": "0 6 * 1-13 *"}, '"13" is out of range for the month (1-12)'),
    ({"schedule_cron": "0 6 * * 8"}, '"8" is out of range for the day of the week (0-7)'),
    ({"schedule_cron": "*/0 * * * *"}, '"*/0": the step after / must be a whole number above 0'),
    ({"schedule_cron": "0 6 * * Mon-Fry"}, '"Fry" is not a day of the week (0-7 or sun-sat)'),
    ({"schedule_cron": "0 9 * * 5L"}, '"5L" is not a day of the week'),
    ({"schedule_cron": "1-2-3 * * * *"}, '"1-2-3" is not a minute or a range of them'),
    ({"schedule_cron": "0 6 ?,1 * *"}, '"?" is not a day of the month'),
    ({"schedule": "interval", "schedule_interval": 30}, "at least 60 seconds"),
]


@pytest.mark.parametrize(("answers", "message"), INVALID, ids=lambda v: repr(v)[:60])
def test_an_invalid_answer_is_refused_and_nothing_is_written(
    copie, answers: dict[str, Any], message: str
) -> None:
    result = copie.copy(extra_answers=answers)
    assert isinstance(result.exception, ValueError)
    assert re.search(r"Validation error|Invalid choice", str(result.exception))
    assert message in str(result.exception)
    assert result.project_dir is None
    assert [p for p in copie.test_dir.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("project_name", "slug", "package"),
    [
        ("Acme Data Pipelines", "acme-data-pipelines", "acme_data_pipelines"),
        ("Données Météo 2.0", "donnees-meteo-2-0", "donnees_meteo_2_0"),
        ("3D Printing Analytics", "3d-printing-analytics", "p3d_printing_analytics"),
        ("  Spaces   and...Dots  ", "spaces-and-dots", "spaces_and_dots"),
        ("Straße Ærø Łódź", "strasse-aero-lodz", "strasse_aero_lodz"),
    ],
)
def test_names_are_derived_from_any_project_name(
    render_project, project_name: str, slug: str, package: str
) -> None:
    project = render_project(project_name=project_name)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["project_slug"], answers["package_name"]) == (slug, package)
    assert (project / "src" / package / "flows" / "sales" / "pipeline.py").exists()
    assert f'name = "{slug}"' in (project / "pyproject.toml").read_text()


def test_pyproject_keeps_every_character_of_the_metadata(render_project) -> None:
    description = 'Météo "live" feeds \\ back-slashed, 東京'
    project = render_project(description=description, author_name='Zoë O\'Brien "ZO"')
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert "Météo" in text  # as UTF-8, not \\u escapes
    assert "\\u" not in text
    metadata = tomllib.loads(text)["project"]
    assert metadata["description"] == description
    assert metadata["authors"][0]["name"] == 'Zoë O\'Brien "ZO"'


@pytest.mark.parametrize(
    "answers",
    [{"schedule": "none", "schedule_cron": "61"}, {"schedule": "cron", "schedule_interval": 5},
     {"code_source": "local", "git_repository": "ftp://x"}],
    ids=["cron", "interval", "git"],
)  # fmt: skip
def test_an_answer_to_a_question_that_does_not_apply_is_not_checked(
    copie, answers: dict[str, Any]
) -> None:
    """`--data` for a question its `when:` hides (left over from a changed answer, say)
    neither blocks the copy nor reaches the project."""
    result = copie.copy(extra_answers=answers)
    assert result.exception is None, result.exception
    recorded = yaml.safe_load((result.project_dir / ".copier-answers.yml").read_text())
    hidden = next(iter(answers.keys() - {"schedule", "code_source"}))
    assert hidden not in recorded
