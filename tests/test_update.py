"""`copier update` keeps user edits, brings template changes, and changes answers cleanly.

Each test builds a throwaway copy of this template with two tags: v1.0.0 (the
template as it is) and v1.1.0 (a release that changes the README, a setting, the
department skeleton, and adds a file).
"""

from __future__ import annotations

import contextlib
import filecmp
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from copier import run_update

from project import TEMPLATE, errors, free_port, git_commit_all, host_python, run

CONFLICT = re.compile(r"^(<<<<<<<|=======|>>>>>>>)( |$)", re.MULTILINE)
SKELETON = (
    "template/src/{{package_name}}/flows/"
    "{% yield department from departments %}{{ department }}{% endyield %}"
)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new))


def comment_above(path: Path, code: str, comment: str) -> None:
    """The user's comment on the one line that is `code`, at that line's indentation."""
    lines = path.read_text().splitlines(keepends=True)
    found = [i for i, line in enumerate(lines) if line.strip() == code]
    assert len(found) == 1, (path, code)
    line = lines[found[0]]
    lines.insert(found[0], f"{line[: len(line) - len(line.lstrip())]}# {comment}\n")
    path.write_text("".join(lines))


@pytest.fixture(scope="module")
def template_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git copy of the template tagged v1.0.0, and releases v1.1.0 and v1.2.0."""
    repo = tmp_path_factory.mktemp("template")
    tracked = git(TEMPLATE, "ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    for name in tracked:
        source = TEMPLATE / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git_commit_all(repo, "v1.0.0")
    git(repo, "tag", "v1.0.0")

    template = repo / "template"
    readme = template / "README.md.jinja"
    readme.write_text(readme.read_text() + "\n## Support\n\nAsk in #data-platform.\n")
    replace_once(
        template / "src/{{package_name}}/settings.py.jinja",
        "    auth_token: SecretStr | None = Field(",
        '    user_agent: str = Field(default="pipelines/1.1", description="Sent to sources.")\n'
        "    auth_token: SecretStr | None = Field(",
    )
    replace_once(
        repo / SKELETON / "ingestion.py",
        '"""Ingestion: fetch',
        '"""Ingestion (since v1.1): fetch',
    )
    (template / "CONTRIBUTING.md").write_text("# Contributing\n\nRun `make lint test`.\n")
    git_commit_all(repo, "v1.1.0")
    git(repo, "tag", "v1.1.0")

    # v1.2.0 drops a file, and changes a line users are likely to edit too.
    git(repo, "rm", "-q", "template/.pre-commit-config.yaml")
    replace_once(
        template / "src/{{package_name}}/settings.py.jinja",
        "retries: int = Field(default=3, ge=0, le=10)",
        "retries: int = Field(default=3, ge=0, le=20)",
    )
    git_commit_all(repo, "v1.2.0")
    git(repo, "tag", "v1.2.0")
    return repo


@pytest.fixture
def copy_at(copie, template_versions: Path):
    """`copie.copy` of a tagged template version, committed as a user would."""

    def _copy(ref: str, **answers: object) -> Path:
        result = copie.copy(
            extra_answers={"python_version": host_python(), **answers},
            template_dir=template_versions,
            vcs_ref=ref,
        )
        assert result.exception is None, result.exception
        project = Path(result.project_dir)
        git_commit_all(project, f"Generated at {ref}")
        return project

    return _copy


def conflicts(project: Path) -> list[str]:
    found = []
    for path in project.rglob("*"):
        if not path.is_file() or {".git", ".venv"} & set(path.parts):
            continue
        if path.suffix == ".rej" or CONFLICT.search(path.read_text(errors="replace")):
            found.append(str(path.relative_to(project)))
    return found


def files(project: Path) -> set[str]:
    skip = {".git", ".venv"}
    return {
        str(p.relative_to(project))
        for p in project.rglob("*")
        if p.is_file() and not skip & set(p.relative_to(project).parts)
    }


@pytest.mark.slow
@pytest.mark.xdist_group("update")
def test_make_update_keeps_user_edits_and_brings_template_changes(copy_at, make) -> None:
    project = copy_at("v1.0.0")
    package = project / "src" / next((project / "src").iterdir()).name
    make(project, "install")
    run(["git", "add", "uv.lock"], project)
    run(["git", "commit", "-qm", "Lock"], project)

    # Realistic user edits: a flow, a setting, the README, a department, a dependency.
    comment_above(package / "flows/sales/pipeline.py", "partition = resolve_partition(partition)",
                  "Team rule: one partition per business day.")  # fmt: skip
    replace_once(
        package / "settings.py",
        "retries: int = Field(default=3, ge=0, le=10)",
        "retries: int = Field(default=5, ge=0, le=10)",
    )
    replace_once(
        project / "README.md", "\n## Quick start", "\nOwned by the data team.\n\n## Quick start"
    )
    replace_once(
        project / "pyproject.toml",
        '    "httpx>=0.27,<1",',
        '    "httpx>=0.27,<1",\n    "rich>=13",',
    )

    dirty = make(project, "update", check=False)
    assert dirty.returncode != 0
    assert "Destination repository is dirty; cannot continue." in dirty.stdout  # Copier's own
    git_commit_all(project, "User edits")
    make(project, "department", "NAME=marketing")
    git_commit_all(project, "Add the marketing department")

    updated = make(project, "update", "COPIER_ARGS=--defaults --vcs-ref=v1.1.0").stdout
    assert "Template v1.0.0 -> v1.1.0." in updated
    assert conflicts(project) == []

    # Every user edit is intact.
    assert (
        "# Team rule: one partition per business day."
        in (package / "flows/sales/pipeline.py").read_text()
    )
    settings = (package / "settings.py").read_text()
    assert "retries: int = Field(default=5, ge=0, le=10)" in settings
    assert "Owned by the data team." in (project / "README.md").read_text()
    assert '"rich>=13"' in (project / "pyproject.toml").read_text()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["departments"] == ["sales", "marketing"]
    assert answers["_commit"] == "v1.1.0"
    # Every template change arrived, in every department.
    assert 'user_agent: str = Field(default="pipelines/1.1"' in settings
    assert "## Support" in (project / "README.md").read_text()
    assert (project / "CONTRIBUTING.md").exists()
    for department in ("sales", "marketing"):
        assert (
            (package / "flows" / department / "ingestion.py")
            .read_text()
            .startswith('"""Ingestion (since v1.1): fetch')
        )
    make(project, "lint")

    # Updating again changes nothing.
    git_commit_all(project, "Update to v1.1.0")
    again = make(project, "update", "COPIER_ARGS=--defaults --vcs-ref=v1.1.0").stdout
    assert "Already up to date" in again
    assert git(project, "status", "--porcelain") == ""


@contextlib.contextmanager
def silent_host() -> Iterator[int]:
    """A port that accepts connections and never answers: a git host that stalls."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        held: list[socket.socket] = []

        def hold() -> None:
            with contextlib.suppress(OSError):  # the server closed: the test is over
                while True:
                    held.append(server.accept()[0])

        threading.Thread(target=hold, daemon=True).start()
        yield server.getsockname()[1]
        for connection in held:
            connection.close()


@pytest.mark.slow
@pytest.mark.xdist_group("update")
def test_a_template_git_cannot_fetch_is_one_line_and_changes_nothing(copy_at, make) -> None:
    """Unreachable, then stalled (git gives up after the 30 s the Makefile's
    GIT_HTTP_LOW_SPEED_TIME allows, instead of hanging): each is one line with git's reason,
    and the tree stays as it was."""
    project = copy_at("v1.0.0")
    make(project, "install")
    git_commit_all(project, "Lock")
    answers = project / ".copier-answers.yml"
    recorded = answers.read_text()
    with silent_host() as stalled:
        for port, reason in ((free_port(), "Couldn't connect to server"),
                             (stalled, "Operation too slow")):  # fmt: skip
            source = f"http://127.0.0.1:{port}/template.git"
            answers.write_text(re.sub(r"(?m)^_src_path: .*$", f"_src_path: {source}", recorded))
            git_commit_all(project, f"The template moved to {source}")
            failed = make(project, "update", check=False, timeout=180)
            assert failed.returncode != 0
            assert "Traceback" not in failed.stdout
            (line,) = errors(failed.stdout)
            assert line.startswith("error: git "), line  # the git command Copier ran
            assert f" failed for the template {source}: fatal: " in line
            assert reason in line
            assert git(project, "status", "--porcelain") == ""


def test_an_update_without_user_edits_equals_a_fresh_copy(copy_at) -> None:
    updated = copy_at("v1.0.0", departments=["a", "b"])
    run_update(str(updated), defaults=True, overwrite=True, unsafe=False, vcs_ref="v1.1.0",
               quiet=True)  # fmt: skip
    fresh = copy_at("v1.1.0", departments=["a", "b"])

    assert files(updated) == files(fresh)
    different = [f for f in sorted(files(fresh)) if not filecmp.cmp(updated / f, fresh / f, False)]
    assert different == []


@pytest.mark.slow
@pytest.mark.xdist_group("update-answers")
def test_changing_answers_adds_and_removes_exactly_the_right_files(copy_at, make) -> None:
    project = copy_at("v1.1.0")
    package = next((project / "src").iterdir()).name
    before = files(project)

    run_update(
        str(project), data={"storage": "s3", "prefect_backend": "cloud"}, defaults=True,
        overwrite=True, unsafe=False, vcs_ref="v1.1.0", quiet=True,
    )  # fmt: skip

    after = files(project)
    assert after - before == {
        f"src/{package}/storage_s3.py",
        "tests/unit/test_bucket.py",
    }
    assert before - after == set()
    assert "[api]" not in (project / "prefect.toml").read_text()  # Cloud: the URL is in .env
    assert conflicts(project) == []
    assert "--extra s3" in (project / "Makefile").read_text()
    make(project, "install")
    make(project, "lint")
    make(project, "test", "PYTEST_ARGS=-q -p no:cacheprovider")


def installed(project: Path, make) -> Path:
    """`make install`, and the lock committed, as the README says; the package folder."""
    make(project, "install")
    git_commit_all(project, "Lock dependencies")
    return project / "src" / next((project / "src").iterdir()).name


def with_retries_edited(copy_at, make, version: str) -> tuple[Path, Path]:
    """A project at `version`, installed, with the user's edit on a line v1.2.0 changes too."""
    project = copy_at(version)
    package = installed(project, make)
    replace_once(package / "settings.py", "retries: int = Field(default=3, ge=0, le=10)",
                 "retries: int = Field(default=5, ge=0, le=10)")  # fmt: skip
    return project, package


def update(make, project: Path, *args: str):
    return make(project, "update", *args, check=False)


@pytest.mark.slow
@pytest.mark.xdist_group("update-lost")
def test_nothing_the_user_changed_is_lost_without_a_word(copy_at, make) -> None:
    # An edit on a line v1.2.0 also changes, and a file v1.2.0 drops, edited.
    project, package = with_retries_edited(copy_at, make, "v1.0.0")
    hooks = project / ".pre-commit-config.yaml"
    hooks.write_text(hooks.read_text() + "# our own hook settings\n")
    git_commit_all(project, "User edits")

    result = update(make, project, "VCS_REF=v1.2.0")
    assert result.returncode != 0, result.stdout  # a conflict remains
    assert "Template v1.0.0 -> v1.2.0." in result.stdout
    assert (
        "removed: .pre-commit-config.yaml  "
        "(get yours back: git show HEAD:.pre-commit-config.yaml > .pre-commit-config.yaml)"
    ) in result.stdout
    assert f"src/{package.name}/settings.py" in result.stdout.split("Resolve the conflicts")[1]
    assert "git reset --hard && git clean -fd" in result.stdout
    assert conflicts(project) == [f"src/{package.name}/settings.py"]
    # The command it prints gets the file back, as the user had it.
    run(["bash", "-c", "git show HEAD:.pre-commit-config.yaml > .pre-commit-config.yaml"],
        project)  # fmt: skip
    assert hooks.read_text().endswith("# our own hook settings\n")

    # Abandon, as the message says: the last commit is back, exactly.
    run(["bash", "-c", "git reset --hard -q && git clean -fdq"], project)
    assert git(project, "status", "--porcelain") == ""
    assert hooks.read_text().endswith("# our own hook settings\n")

    # A downgrade is refused in one line, and changes nothing.
    make(project, "update", "VCS_REF=v1.1.0")
    git_commit_all(project, "Update to v1.1.0")
    head = git(project, "rev-parse", "HEAD")
    down = update(make, project, "VCS_REF=v1.0.0")
    assert down.returncode != 0
    assert "Downgrades are not supported." in down.stdout  # Copier's own refusal
    assert "Traceback" not in down.stdout
    assert git(project, "status", "--porcelain") == ""
    assert git(project, "rev-parse", "HEAD") == head


@pytest.mark.slow
@pytest.mark.xdist_group("update-lost")
def test_rejected_hunks_are_reported_and_stay_in_view(copy_at, make) -> None:
    project, package = with_retries_edited(copy_at, make, "v1.1.0")
    git_commit_all(project, "User edit")

    result = update(make, project, "VCS_REF=v1.2.0", "COPIER_ARGS=--conflict rej")

    assert result.returncode != 0
    assert "Resolve the conflicts in these files" in result.stdout
    rejected = f"src/{package.name}/settings.py.rej"
    assert f"  {rejected}" in result.stdout
    assert f"?? {rejected}" in git(project, "status", "--porcelain")  # not git-ignored


@pytest.mark.slow
@pytest.mark.xdist_group("update-answers")
def test_an_answer_flip_and_a_removed_department_are_reported(copy_at, make) -> None:
    project = copy_at("v1.1.0", prefect_backend="self_hosted", work_pool_type="process",
                      departments=["sales", "finance"])  # fmt: skip
    package = installed(project, make)
    compose = project / "compose.yaml"
    compose.write_text(compose.read_text() + "# our registry mirror settings\n")
    finance = package / "flows" / "finance"
    (finance / "NOTES.md").write_text("Ask Dana before changing the sources.\n")
    replace_once(finance / "processing.py", '"""Processing: validate', '"""Finance: validate')
    git_commit_all(project, "User edits")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["work_pool_name"] == "acme-data-pipelines-process"

    result = update(make, project, "VCS_REF=v1.1.0", "COPIER_ARGS=--data prefect_backend=local "
                    "--data work_pool_type=docker --data 'departments=[sales]'")  # fmt: skip

    assert result.returncode == 0, result.stdout
    assert "Template v1.1.0 (unchanged)." in result.stdout
    (changed,) = [line for line in result.stdout.splitlines() if line.startswith("Answers changed")]
    assert "'departments': ['sales']" in changed
    assert "'prefect_backend': 'local'" in changed
    assert "'work_pool_type': 'docker'" in changed
    for path in ("compose.yaml", f"src/{package.name}/flows/finance/processing.py"):
        assert f"removed: {path}  (get yours back: git show HEAD:{path} > {path})" in (
            result.stdout
        )
    notes = f"src/{package.name}/flows/finance/NOTES.md"
    assert (project / notes).exists(), list(project.glob("src/*/flows/*"))
    assert f"left behind in removed department 'finance': {notes}" in result.stdout
    assert (
        "its deployments stay on the server until you delete them: for stage in ingestion "
        "processing analysis pipeline; do uv run prefect deployment delete "
        "finance-$stage/finance-$stage; done"
    ) in result.stdout
    assert "pyproject.toml changed: run `make install`." in result.stdout  # the docker extra
    # The pool name, left at its default, follows the pool type.
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["work_pool_name"] == "acme-data-pipelines-docker"
    assert "POOL := acme-data-pipelines-docker" in (project / "Makefile").read_text()


@pytest.mark.slow
@pytest.mark.xdist_group("update-answers")
def test_replaced_demo_data_stays_the_users_even_with_generated_files_deleted(
    copy_at, make
) -> None:
    project = copy_at("v1.0.0")
    package = installed(project, make)
    demo = package / "flows/sales/demo_data/north.csv"
    demo.write_text("record_id,occurred_on,category,quantity,unit_price\nN1,2026-03-01,x,1,1\n")
    run(["git", "rm", "-q", "tests/unit/test_summary.py"], project)  # a file they do not want
    git_commit_all(project, "Our own data")

    result = update(make, project, "VCS_REF=v1.1.0")

    assert result.returncode == 0, result.stdout
    assert conflicts(project) == []
    assert demo.read_text().startswith("record_id,occurred_on,category,quantity,unit_price\nN1,")
    assert "<<<<<<<" not in demo.read_text()

    # A template recorded by a relative path that does not resolve from the project
    # (copier-org/copier#1616) is named in one line, before Copier runs.
    git_commit_all(project, "Update to v1.1.0")
    answers_file = project / ".copier-answers.yml"
    answers = yaml.safe_load(answers_file.read_text())
    answers_file.write_text(answers_file.read_text().replace(
        f"_src_path: {answers['_src_path']}", "_src_path: ../copier-prefect-starter"))  # fmt: skip
    git_commit_all(project, "Moved the template")
    moved = update(make, project)
    (line,) = errors(moved.stdout)
    assert "_src_path: ../copier-prefect-starter) does not exist from here" in line
    assert "absolute path or a git URL" in line


def test_updates_are_idempotent_and_skipping_a_version_equals_stepping(copy_at) -> None:
    stepped = copy_at("v1.0.0", departments=["a", "b"])
    for ref in ("v1.1.0", "v1.2.0"):
        run_update(str(stepped), defaults=True, overwrite=True, unsafe=False, vcs_ref=ref,
                   quiet=True)  # fmt: skip
        git_commit_all(stepped, f"Update to {ref}")
    skipped = copy_at("v1.0.0", departments=["a", "b"])
    run_update(str(skipped), defaults=True, overwrite=True, unsafe=False, vcs_ref="v1.2.0",
               quiet=True)  # fmt: skip
    git_commit_all(skipped, "Update to v1.2.0")

    assert files(stepped) == files(skipped)
    assert [f for f in files(skipped) if not filecmp.cmp(stepped / f, skipped / f, False)] == []
    # A second update to the same version changes nothing.
    run_update(str(skipped), defaults=True, overwrite=True, unsafe=False, vcs_ref="v1.2.0",
               quiet=True)  # fmt: skip
    assert git(skipped, "status", "--porcelain") == ""


def test_an_update_with_user_edits_differs_from_a_fresh_copy_only_there(copy_at) -> None:
    updated = copy_at("v1.0.0")
    package = updated / "src" / next((updated / "src").iterdir()).name
    comment_above(package / "flows/sales/pipeline.py", "partition = resolve_partition(partition)",
                  "Team rule.")  # fmt: skip
    git_commit_all(updated, "User edit")
    run_update(str(updated), defaults=True, overwrite=True, unsafe=False, vcs_ref="v1.2.0",
               quiet=True)  # fmt: skip
    fresh = copy_at("v1.2.0")

    assert files(updated) == files(fresh)
    different = [f for f in sorted(files(fresh)) if not filecmp.cmp(updated / f, fresh / f, False)]
    assert different == [f"src/{package.name}/flows/sales/pipeline.py"]
