"""End to end in the real Dagster UI: `intercom-pipeline ui` with the fake, driven by Debian's chromium.

Opens the asset graph, launches ``access_job`` from the launchpad for an email the fake holds, waits
for the run to succeed, checks the access package on disk and renders its ``report.html``. A second
test materializes exports, discovery and detection and checks that their pictures (bar charts,
counts and changes tables, completeness) render on the asset pages. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from intercom_pipeline.privacy import sealed
from intercom_pipeline.privacy.requests import PrivacyRequest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Flags Debian's chromium needs as root on a closed network (no sandbox, no background fetches).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAIN_ASSETS = {
    "detection": ("detection_inventory", "detection_changes"),
    "discovery": ("discovery_counts", "discovery_samples", "discovery_classification"),
    "exports": ("contacts", "conversations", "conversation_parts", "warehouse"),
}
LOCATION = "intercom_pipeline"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class DagsterDev:
    """`intercom-pipeline ui` in its own process group, shut down with SIGINT like a person would."""

    def __init__(self, data_root: Path):
        self.port, self.emulator_port = _free_port(), _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.emulator_url = f"http://127.0.0.1:{self.emulator_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INTERCOM_", "DAGSTER_"))}
        env["INTERCOM_PIPELINE_DATA"] = str(data_root)
        self.log = (data_root.parent / "dagster-dev.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "intercom_pipeline.cli", "ui", "--port", str(self.port),
             "--emulator-port", str(self.emulator_port), "--contacts", "300"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            # pytest may run us with SIGINT ignored; dagster dev needs it to shut down cleanly.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=10)
        return response.json()["data"]

    def wait_loaded(self) -> None:
        query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"

        def loaded() -> bool:
            entries = self.graphql(query)["workspaceOrError"]["locationEntries"]
            return bool(entries) and all(entry["loadStatus"] == "LOADED" for entry in entries)

        _wait(loaded, 240, "the code location to load")

    def launch(self, job: str, partition: str, dimensions: dict[str, str] | None = None,
               assets: list[str] | None = None) -> str:
        """Launch ``job`` (or ``assets`` alone) for one partition through the webserver's GraphQL API,
        as the UI's Materialize button does."""
        mutation = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
            ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
            ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }"""
        tags = [{"key": "dagster/partition", "value": partition}]
        tags += [{"key": f"dagster/partition/{k}", "value": v} for k, v in (dimensions or {}).items()]
        selector: dict = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__", "jobName": job}
        if assets:
            selector["assetSelection"] = [{"path": [name]} for name in assets]
        params = {"selector": selector, "runConfigData": {}, "executionMetadata": {"tags": tags}}
        result = self.graphql(mutation, {"p": params})["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return result["run"]["runId"]

    def last_partition_key(self, job: str) -> str:
        """The job's newest partition key as the webserver's code location defines it (demo mode
        there may choose other windows than this test process would)."""
        query = """query($s: PipelineSelector!) { pipelineOrError(params: $s) { ... on Pipeline {
            partitionKeysOrError(reverse: true, limit: 1) { ... on PartitionKeys { partitionKeys } } } } }"""
        selector = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__", "pipelineName": job}
        keys = self.graphql(query, {"s": selector})["pipelineOrError"]["partitionKeysOrError"]["partitionKeys"]
        return keys[0]

    def finished(self, run_id: str) -> str:
        return _wait(lambda: (s := self.run_status(run_id)) in {"SUCCESS", "FAILURE", "CANCELED"} and s,
                     300, f"run {run_id} to finish")

    def run_status(self, run_id: str) -> str:
        query = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
        return self.graphql(query, {"id": run_id})["runOrError"]["status"]

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=60)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            with_kill = True
        else:
            with_kill = False
        if with_kill:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.log.close()
        assert not with_kill, "dagster dev did not shut down on SIGINT within 60 s"


@pytest.fixture
def dagster_dev(tmp_path: Path) -> Iterator[DagsterDev]:
    dev = DagsterDev(tmp_path / "data")
    try:
        yield dev
    finally:
        dev.stop()
        # Every child is gone: the fake's port is closed again.
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", dev.emulator_port)) != 0, "the fake outlived dagster dev"


def _dismiss_community_dialog(page) -> None:
    """Dagster shows a "join the community" dialog on a first visit; it covers the page."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=3_000)
    except Exception:  # no dialog this time
        return
    skip.click()


def _an_email_the_fake_holds(dev: DagsterDev) -> tuple[str, str]:
    headers = {"Authorization": "Bearer emulator-token", "Accept": "application/json"}
    body = {"query": {"field": "role", "operator": "=", "value": "user"}, "pagination": {"per_page": 5}}
    page = httpx.post(f"{dev.emulator_url}/contacts/search", json=body, headers=headers, timeout=10).json()
    contact = next(c for c in page["data"] if c.get("email"))
    return contact["email"], contact["id"]


def test_launch_access_job_from_the_launchpad(dagster_dev: DagsterDev, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    _wait(lambda: httpx.get(f"{dagster_dev.url}/server_info", timeout=2).status_code == 200, 240, "dagster dev")
    dagster_dev.wait_loaded()
    email, contact_id = _an_email_the_fake_holds(dagster_dev)
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})

        page.goto(f"{dagster_dev.url}/asset-groups", wait_until="networkidle")
        _dismiss_community_dialog(page)
        for group in MAIN_ASSETS:
            page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "asset-graph.png"))
        # Tall enough for the exports group's column of 20 nodes at the graph's default zoom.
        page.set_viewport_size({"width": 1600, "height": 4400})
        for group, assets in MAIN_ASSETS.items():
            page.goto(f"{dagster_dev.url}/locations/{LOCATION}/asset-groups/{group}", wait_until="networkidle")
            for name in assets:
                page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / f"asset-group-{group}.png"))
        page.set_viewport_size({"width": 1600, "height": 1000})

        page.goto(f"{dagster_dev.url}/locations/{LOCATION}/jobs/access_job/playground", wait_until="networkidle")
        page.wait_for_selector(".CodeMirror", timeout=60_000)
        # The email never enters Dagster: the request is sealed (as the inbox or the CLI would), and
        # the launchpad names it by id. make ui registered its fake as connection "default".
        request = PrivacyRequest.from_dict({"type": "access", "email": email, "request_id": "ui_access"})
        sealed.seal(tmp_path / "data", request, "default", fake=True)
        config = json.dumps({"ops": {"find_access_subject": {"config": {"request_id": "ui_access"}}}})
        page.evaluate("value => document.querySelector('.CodeMirror').CodeMirror.setValue(value)", config)
        _dismiss_community_dialog(page)
        page.get_by_role("button", name="Launch Run").click()
        page.wait_for_url("**/runs/**", timeout=60_000)
        run_id = page.url.rstrip("/").split("/runs/")[1].split("?")[0]

        status = _wait(lambda: (s := dagster_dev.run_status(run_id)) in {"SUCCESS", "FAILURE", "CANCELED"} and s,
                       300, "the access run to finish")
        page.reload(wait_until="networkidle")
        page.screenshot(path=str(ARTIFACTS / "access-run.png"))

        assert status == "SUCCESS", f"run {run_id} ended {status}; see {tmp_path / 'dagster-dev.log'}"
        access = tmp_path / "data" / "privacy" / "access"
        packages = [p for p in access.iterdir() if not p.name.startswith(".")]
        assert len(packages) == 1
        page.goto((packages[0] / "report.html").as_uri(), wait_until="load")
        found = page.locator("#found")
        assert found.locator("tr").count() == 4  # header + contacts, companies, notes
        assert "Contact profiles" in found.inner_text()
        assert email not in page.content()
        page.screenshot(path=str(ARTIFACTS / "access-report.png"), full_page=True)
        page.pdf(path=str(ARTIFACTS / "access-report.pdf"))  # printable: chromium's print path works
        browser.close()

    assert not any((access / ".staging").iterdir()), "the run left staged contact data behind"
    contacts = json.loads((packages[0] / "contacts.json").read_text())
    assert contact_id in json.dumps(contacts)
    manifest = json.loads((packages[0] / "manifest.json").read_text())
    assert email not in json.dumps(manifest)
    assert manifest["target"]["fake"] is True  # make ui without a token: the fake, and the package says so


# Asset page -> metadata labels whose pictures must render there (Markdown tables and bars).
PICTURES = {
    "companies": ("rows_per_partition", "completeness"),
    "discovery_counts": ("all_objects_counted_today",),
    "discovery_classification": ("personal_data_by_category",),
    "detection_changes": ("changes_table",),
}


def test_asset_pages_show_charts_tables_and_completeness(dagster_dev: DagsterDev, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from playwright.sync_api import sync_playwright

    _wait(lambda: httpx.get(f"{dagster_dev.url}/server_info", timeout=2).status_code == 200, 240, "dagster dev")
    dagster_dev.wait_loaded()
    today = datetime.now(UTC).date().isoformat()
    window = dagster_dev.last_partition_key("detection_job")  # as the UI's process defines it
    runs = [dagster_dev.launch("__ASSET_JOB", today, assets=["companies"]),
            dagster_dev.launch("detection_job", window)]
    runs += [dagster_dev.launch("discovery_job", f"{today}|{obj}", {"date": today, "object": obj})
             for obj in ("companies", "contacts")]
    statuses = [dagster_dev.finished(run_id) for run_id in runs]
    assert statuses == ["SUCCESS"] * len(runs), f"see {tmp_path / 'dagster-dev.log'}"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        for asset, labels in PICTURES.items():
            page.goto(f"{dagster_dev.url}/assets/{asset}?view=events", wait_until="networkidle")
            _dismiss_community_dialog(page)
            for label in labels:
                page.get_by_text(label, exact=True).first.wait_for(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / f"asset-{asset}.png"), full_page=True)
        text = page.content()
        browser.close()
    assert "<table" in text
