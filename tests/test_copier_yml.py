"""The questionnaire reads like a form and needs no trust."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import release

from conftest import COPIER_YML, TEMPLATE
from project import git_commit_all, host_python

QUESTIONS = {k: v for k, v in COPIER_YML.items() if not k.startswith("_")}
ASKED = {k: v for k, v in QUESTIONS.items() if v.get("when") is not False}
REQUIRED = {
    "project_name", "project_slug", "package_name", "description", "author_name",
    "author_email", "python_version", "prefect_backend", "storage", "work_pool_type",
    "work_pool_name", "image_name", "code_source", "git_repository", "git_branch",
    "departments", "schedule", "schedule_cron", "schedule_interval", "task_runner", "ci",
}  # fmt: skip


def test_every_question_the_issue_lists_is_asked() -> None:
    assert set(ASKED) == REQUIRED


def test_every_question_has_a_type_a_help_and_a_default() -> None:
    for name, question in ASKED.items():
        assert question.get("type") in {"str", "bool", "int", "float", "yaml", "json"}, name
        assert len(question.get("help", "")) > 20, name
        assert "default" in question, name


def test_every_help_starts_with_one_short_complete_line() -> None:
    """A terminal may show only the first line: it must say what the question is."""
    for name, question in ASKED.items():
        first = question["help"].splitlines()[0]
        assert len(first) <= 72, (name, first)
        assert first.endswith("."), (name, first)


def test_free_text_answers_are_validated() -> None:
    free_text = {name for name, q in ASKED.items() if "choices" not in q}
    assert free_text == {name for name, q in ASKED.items() if "validator" in q}


def test_no_feature_needs_trust(tmp_path: Path) -> None:
    for setting in ("_tasks", "_jinja_extensions", "_migrations"):
        assert setting not in COPIER_YML
    assert COPIER_YML["_subdirectory"] == "template"
    # As a user runs it: the command line, without --trust.
    copier = str(Path(sys.executable).with_name("copier"))
    result = subprocess.run(
        [copier, "copy", "--defaults", "--vcs-ref", "HEAD", "--data",
         f"python_version={host_python()}", str(TEMPLATE), str(tmp_path / "p")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "p" / "prefect.yaml").exists()
    assert COPIER_YML["_min_copier_version"]
    assert "_message_after_copy" in COPIER_YML


def test_derived_values_are_never_asked_or_stored() -> None:
    derived = {name for name, q in QUESTIONS.items() if q.get("when") is False}
    assert {
        "image_pool", "has_dockerfile", "default_department",
        "image_extras", "host_extras", "image_registry", "k8s_namespace", "compose_project",
        "outputs_volume", "pool_name", "git_pull",
    } <= derived  # fmt: skip
    answers_template = (TEMPLATE / "template" / "{{_copier_conf.answers_file}}.jinja").read_text()
    assert "_copier_answers" in answers_template


def test_every_release_tag_in_this_clone_has_a_changelog_entry() -> None:
    """`copier copy` renders the newest vX.Y.Z tag, so each tag needs its CHANGELOG entry.
    (A CI checkout may carry no tags; `make release` is what creates them, tested below.)"""
    tags = subprocess.run(
        ["git", "tag", "--list", "v*"], cwd=TEMPLATE, capture_output=True, text=True, check=True
    ).stdout.split()
    entries = release.changelog_versions((TEMPLATE / "CHANGELOG.md").read_text())
    assert entries, "CHANGELOG.md describes no release"
    assert {tag.removeprefix("v") for tag in tags} <= set(entries)


def _release(repo: Path, version: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TEMPLATE / "scripts" / "release.py"), version, "--repo", str(repo)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_make_release_tags_only_a_version_the_changelog_describes(tmp_path: Path) -> None:
    repo = tmp_path / "template"
    repo.mkdir()
    changelog = repo / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2026-01-02\n- first\n")
    git_commit_all(repo, "first")

    def tags() -> list[str]:
        return release.git(repo, "tag", "--list").split()

    assert _release(repo, "0.1.0").returncode == 0
    assert tags() == ["v0.1.0"]

    refused = {
        "0.1.0": "v0.1.0 is already tagged",
        "0.2.0": "CHANGELOG.md has no '## [0.2.0] - YYYY-MM-DD' entry",
        "0.0.9": "0.0.9 is not newer than the latest release v0.1.0",
        "next": "'next' is not a version like 1.2.3",
    }
    for version, reason in refused.items():
        result = _release(repo, version)
        assert result.returncode == 1, version
        assert result.stderr.startswith(f"error: not tagged: {reason}"), result.stderr
        assert "Traceback" not in result.stderr
    changelog.write_text(
        changelog.read_text().replace("[Unreleased]\n", "[Unreleased]\n\n## [0.2.0] - 2026-02-03\n")
    )
    assert "uncommitted changes" in _release(repo, "0.2.0").stderr
    git_commit_all(repo, "0.2.0")
    assert tags() == ["v0.1.0"]
    released = _release(repo, "v0.2.0")
    assert released.returncode == 0, released.stderr
    assert tags() == ["v0.1.0", "v0.2.0"]
