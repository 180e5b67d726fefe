"""Each storage choice, for real: a department pipeline against a local emulator.

moto (S3), fake-gcs-server (GCS) and Azurite (Azure Blob) run on loopback. The
generated project's own `make up`, `make blocks`, `make deploy` and `make run`
drive a real Prefect server and worker; the bucket is then inspected with the
provider's SDK: every output and the manifest are there, the records of finished
work too, a second run writes nothing, and a deleted object is the only one redone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from project import free_port, git_commit_all, run
from services import EMULATORS

PROBE = Path(__file__).with_name("storage_probe.py")
BUCKET = "pipelines"
PREFIX = "acme"


@pytest.mark.slow
@pytest.mark.parametrize("storage", sorted(EMULATORS))
def test_a_pipeline_round_trip_through_the_storage_emulator(
    storage: str, render_project, env: dict[str, str], tmp_path: Path, stopped_afterwards
) -> None:
    project: Path = render_project(storage=storage)
    git_commit_all(project, "rendered")
    python = str(project / ".venv/bin/python")

    with EMULATORS[storage](tmp_path) as emulator:
        project_env = {**env, **emulator.env, "PROBE_ENDPOINT": emulator.endpoint}

        def make(*targets: str) -> str:
            return run(["make", "--no-print-directory", *targets], project, env=project_env).stdout

        def bucket_versions() -> dict[str, str]:
            listing = run([python, str(PROBE), storage, BUCKET, "list"], project, env=project_env)
            return json.loads(listing.stdout)

        make("install")
        run([python, str(PROBE), storage, BUCKET, "create"], project, env=project_env)
        settings = {
            "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",
            "PIPELINE_STORAGE__BUCKET": BUCKET,
            "PIPELINE_STORAGE__PREFIX": PREFIX,
        }
        if storage == "s3":
            settings["PIPELINE_STORAGE__ENDPOINT_URL"] = emulator.endpoint
        (project / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))

        stopped_afterwards.append(project)
        make("up")
        blocks = make("blocks")
        assert re.search(r"\S+ 'acme-data-pipelines-storage-credentials', \S+ "
                         r"'acme-data-pipelines-storage'$", blocks, re.MULTILINE)  # fmt: skip
        assert make("blocks") == blocks  # saved again over the same two
        names = ["acme-data-pipelines-storage-credentials", "acme-data-pipelines-storage"]
        saved = httpx.post(f"{settings['PREFECT_API_URL']}/block_documents/filter", timeout=10,
                           json={"block_documents": {"name": {"any_": names}}}).json()  # fmt: skip
        assert sorted(document["name"] for document in saved) == sorted(names)
        make("deploy")

        output = make("run", "PARTITION=2026-01-31")
        assert "Completed" in output
        versions = bucket_versions()
        outputs = {k: v for k, v in versions.items() if "/.done/" not in k}
        day = "sales/2026-01-31"
        assert set(outputs) == {
            *(f"{PREFIX}/raw/{day}/{name}" for name in ("north.csv", "online.csv", "south.csv")),
            *(
                f"{PREFIX}/processed/{day}/{n}.json"
                for n in ("north.csv", "online.csv", "south.csv")
            ),
            f"{PREFIX}/reports/{day}/summary.json",
            f"{PREFIX}/reports/{day}/report.md",
            f"{PREFIX}/manifests/sales/2026-01-31.json",
        }
        # A record of each finished unit, beside the outputs, where any worker finds it.
        records = set(versions) - set(outputs)
        assert records == {f"{PREFIX}/.done/{key.split('/', 1)[1]}.json" for key in outputs
                           if not key.endswith("report.md")}  # fmt: skip

        # A second run reuses everything: no object is written again.
        make("run", "PARTITION=2026-01-31")
        assert bucket_versions() == versions

        # Delete one output: only that object is written again.
        victim = f"{PREFIX}/processed/{day}/online.csv.json"
        run([python, str(PROBE), storage, BUCKET, "delete", victim], project, env=project_env)
        make("run", "PARTITION=2026-01-31")
        after = bucket_versions()
        changed = {k for k in set(after) | set(versions) if after.get(k) != versions.get(k)}
        assert {k for k in changed if "/.done/" not in k} == {victim}

        make("down")
