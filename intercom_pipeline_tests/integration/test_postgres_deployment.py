"""A real deployment on this machine: Postgres, dagster-daemon, dagster-webserver, two code locations.

What an operator runs (README "Deploying"): the instance is ``deploy/dagster.yaml`` on a private
Postgres cluster; ``workspace.yaml`` has two locations (``defs`` and ``defs_second``), each on its
own fake Intercom; every process starts in another directory with one absolute data root. Runs are
submitted through the webserver's GraphQL API and dequeued by the daemon, as from the UI.

``make integration`` runs this (``.ci/run`` too, after ``make test``); it needs Debian's postgresql.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dagster as dg
import httpx
import pytest
from dagster_graphql import DagsterGraphQLClient

from intercom_pipeline import storage
from intercom_pipeline.defs import privacy as privacy_defs
from intercom_pipeline.privacy import sealed
from intercom_pipeline.privacy.requests import PrivacyRequest
from intercom_pipeline_tests.integration.postgres import postgres_cluster

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TOKEN = "integration-token"
INBOX_SENSOR = "privacy_inbox_sensor"
START_SENSOR = """
mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename ... on PythonError { message } } }
"""


@dataclass
class Deployment:
    env: dict[str, str]
    data_root: Path
    home: Path
    fakes: dict[str, str]  # location -> base URL
    graphql: DagsterGraphQLClient

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """Rows of a query on the instance's database."""
        import psycopg

        conninfo = (f"host={self.env['DAGSTER_PG_HOST']} port={self.env['DAGSTER_PG_PORT']} user=postgres "
                    "dbname=dagster")
        with psycopg.connect(conninfo) as conn:
            return list(conn.execute(query.encode()).fetchall())

    @staticmethod
    def run(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
        run = instance.get_run_by_id(run_id)
        assert run is not None, run_id
        return run

    def instance(self) -> dg.DagsterInstance:
        with _environ(self.env):
            return dg.DagsterInstance.from_config(str(self.home))

    def submit(self, location: str, job: str, run_config: dict | None = None, tags: dict | None = None) -> str:
        # Steps in the run worker's process (pools still apply): a 2-core CI machine runs 8 runs at once.
        config = {**(run_config or {}), "execution": {"config": {"in_process": {}}}}
        return self.graphql.submit_job_execution(job, repository_location_name=location,
                                                 repository_name="__repository__", run_config=config,
                                                 tags=tags or {})

    def request(self, request_id: str, kind: str, email: str, workspace: str) -> None:
        """Drop a request naming its workspace into the shared inbox, as a privacy team would."""
        request = {"request_id": request_id, "type": kind, "identifier": {"category": "email", "value": email},
                   "workspace": workspace}
        path = storage.write_json(self.data_root / "privacy" / "inbox" / f"{request_id}.json", request, private=True)
        settled = time.time() - 60  # the sensor leaves files younger than 2 s for its next tick
        os.utime(path, (settled, settled))

    def run_of(self, instance: dg.DagsterInstance, request_id: str, timeout: float = 300) -> str:
        """The run the inbox sensor launched for a request."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = instance.get_run_records(dg.RunsFilter(tags={"privacy/request_id": request_id}))
            if records:
                return records[0].dagster_run.run_id
            time.sleep(1)
        raise AssertionError(f"no run for request {request_id} after {timeout} s")

    def wait(self, instance: dg.DagsterInstance, run_ids: list[str], timeout: float = 600) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            statuses = {r: self.run(instance, r).status for r in run_ids}
            if all(s in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
                   for s in statuses.values()):
                return {r: s.value for r, s in statuses.items()}
            time.sleep(1)
        raise AssertionError(f"runs not finished after {timeout} s: {statuses}")

    def failures(self, instance: dg.DagsterInstance, run_ids: list[str]) -> dict[str, list[str]]:
        """Each failed run's job and error messages (for assertion messages)."""
        failed = {}
        for run_id in run_ids:
            run = self.run(instance, run_id)
            if run.status != dg.DagsterRunStatus.SUCCESS:
                errors = [str(e.message)[:500] for e in instance.all_logs(run_id)
                          if e.dagster_event is not None and e.dagster_event.is_failure]
                failed[f"{run.job_name} {run_id}"] = errors
        return failed


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_fake(seed: int, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "intercom_pipeline.cli", "emulator", "--port", str(port),
                                "--seed", str(seed), "--contacts", "60", "--token", TOKEN, "--rate-limit", "10000"],
                               stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    _wait_http(f"{base_url}/_emulator/stats", process)
    return process, base_url


def _wait_http(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"process for {url} exited with {process.returncode}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    base = tmp_path_factory.mktemp("deployment")
    home, data_root, elsewhere = base / "dagster_home", base / "data", base / "elsewhere"
    logs = REPO / "test-artifacts" / "integration"  # git-ignored; kept for a look after a failure
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    for folder in (home, elsewhere):
        folder.mkdir()
    shutil.copyfile(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")  # the operator's instance
    processes: list[subprocess.Popen] = []
    with postgres_cluster() as url:
        pg = urlparse(url)
        try:
            fake_a, url_a = _start_fake(7, logs / "fake_a.log")
            fake_b, url_b = _start_fake(8, logs / "fake_b.log")
            processes += [fake_a, fake_b]
            (base / "workspace.yaml").write_text(textwrap.dedent("""
                load_from:
                  - python_module: {module_name: intercom_pipeline.definitions, attribute: defs,
                                    location_name: intercom_pipeline}
                  - python_module: {module_name: intercom_pipeline.definitions, attribute: defs_second,
                                    location_name: intercom_pipeline_second}
            """))
            env = {k: v for k, v in os.environ.items() if not k.startswith(("INTERCOM_", "DAGSTER_"))}
            env.update(DAGSTER_HOME=str(home), INTERCOM_PIPELINE_DATA=str(data_root),
                       DAGSTER_PG_HOST=pg.hostname or "", DAGSTER_PG_PORT=str(pg.port), DAGSTER_PG_USER="postgres",
                       DAGSTER_PG_PASSWORD="trust-auth", DAGSTER_PG_DB="dagster",
                       INTERCOM_ACCESS_TOKEN=TOKEN, INTERCOM_BASE_URL=url_a,
                       INTERCOM_SECOND_ACCESS_TOKEN=TOKEN, INTERCOM_SECOND_BASE_URL=url_b)
            workspace = ["-w", str(base / "workspace.yaml")]
            port = _free_port()
            for name, command in (("daemon", ["dagster-daemon", "run", *workspace]),
                                  ("webserver", ["dagster-webserver", *workspace, "-h", "127.0.0.1", "-p", str(port)])):
                processes.append(subprocess.Popen([str(Path(sys.executable).parent / command[0]), *command[1:]],
                                                  env=env, cwd=elsewhere, stdout=(logs / f"{name}.log").open("w"),
                                                  stderr=subprocess.STDOUT, start_new_session=True))
            _wait_http(f"http://127.0.0.1:{port}/server_info", processes[-1])
            client = DagsterGraphQLClient("127.0.0.1", port_number=port)
            _wait_for_locations(client, port)
            # The inbox serves every workspace: its sensor is on in one location only.
            selector = {"repositoryLocationName": "intercom_pipeline", "repositoryName": "__repository__",
                        "sensorName": INBOX_SENSOR}
            started = httpx.post(f"http://127.0.0.1:{port}/graphql", timeout=30,
                                 json={"query": START_SENSOR, "variables": {"s": selector}}).json()
            assert started["data"]["startSensor"]["__typename"] == "Sensor", started
            yield Deployment(env, data_root, home, {"intercom_pipeline": url_a, "intercom_pipeline_second": url_b},
                             client)
        finally:
            for process in reversed(processes):
                _stop(process)
        assert not (elsewhere / "data").exists(), "a process wrote into ./data of its working directory"


def _wait_for_locations(client: DagsterGraphQLClient, port: int, timeout: float = 300) -> None:
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=30).json()
        states = {e["name"]: e["loadStatus"] for e in entries["data"]["workspaceOrError"]["locationEntries"]}
        if len(states) == 2 and set(states.values()) == {"LOADED"}:
            return
        time.sleep(1)
    raise AssertionError(f"code locations not loaded: {states}")


def _app_id(base_url: str) -> str:
    me = httpx.get(f"{base_url}/me", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    return str(me["app"]["id_code"])


def _contact_email(base_url: str) -> str:
    page = httpx.get(f"{base_url}/contacts", headers={"Authorization": f"Bearer {TOKEN}"},
                     params={"per_page": 50}).json()
    return next(c["email"] for c in page["data"] if c.get("email"))


def test_both_workspaces_run_access_deletion_exports_and_detection_concurrently(deployment: Deployment):
    """Exports and detection of both workspaces submitted together; an access request naming the
    first workspace by connection name and a deletion naming the second by app id, through the inbox."""
    instance = deployment.instance()
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    window = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d-%H:00")
    runs = {}
    for location in deployment.fakes:
        runs[(location, "exports")] = deployment.submit(location, "exports_snapshot_job")  # unpartitioned
        runs[(location, "detection")] = deployment.submit(location, "detection_job", tags={"dagster/partition": window})
    url_a, url_b = deployment.fakes["intercom_pipeline"], deployment.fakes["intercom_pipeline_second"]
    app_a, app_b = _app_id(url_a), _app_id(url_b)
    deployment.request("acc_first", "access", _contact_email(url_a), "default")
    deployment.request("del_second", "deletion", _contact_email(url_b), app_b)
    runs[("intercom_pipeline", "access")] = deployment.run_of(instance, "acc_first")
    runs[("intercom_pipeline_second", "deletion")] = deployment.run_of(instance, "del_second")
    statuses = deployment.wait(instance, list(runs.values()))
    assert set(statuses.values()) == {"SUCCESS"}, deployment.failures(instance, list(runs.values()))
    for base_url in (url_a, url_b):
        app = _app_id(base_url)
        assert list((deployment.data_root / "exports" / "tags" / f"workspace={app}").rglob("*.parquet"))
        assert list((deployment.data_root / "detection" / "inventory" / f"workspace={app}").rglob("*.parquet"))
    # the inbox routed each request to its workspace: run config names the connection, results the app
    for request_id, connection, app in (("acc_first", "default", app_a), ("del_second", "second", app_b)):
        run = deployment.run(instance, deployment.run_of(instance, request_id))
        run_config: Any = run.run_config
        assert run_config["resources"]["intercom"]["config"]["connection"] == connection
        result = deployment.data_root / run.tags["privacy/result"]
        assert app in result.read_text() if result.is_file() else app in (result / "manifest.json").read_text()
    deleted = httpx.get(f"{url_b}/_emulator/stats").json()["by_endpoint"]["DELETE /contacts/{contact_id}"]
    assert deleted.get("200", 0) >= 1
    assert "DELETE /contacts/{contact_id}" not in httpx.get(f"{url_a}/_emulator/stats").json()["by_endpoint"]
    # one budget per workspace in the instance's own database (the instance is on Postgres)
    tables = {row[0] for row in deployment.sql("SELECT tablename FROM pg_tables WHERE tablename LIKE 'ratelimit%'")}
    assert {f"ratelimit___intercom_{app_a.lower()}", f"ratelimit___intercom_{app_b.lower()}"} <= tables


def test_a_privacy_run_starts_while_both_workspaces_exports_hold_their_slots(deployment: Deployment):
    instance = deployment.instance()
    pools = ("intercom_api/default", "intercom_api/second")
    for pool in pools:
        instance.event_log_storage.set_concurrency_slots(pool, 1)
    email = _contact_email(deployment.fakes["intercom_pipeline"])
    # Slow every call down (2.5 s) so the exports hold their slots for minutes; the privacy run
    # needs a handful of calls.
    _latency(deployment, 2500)
    try:
        exports = [deployment.submit(loc, "exports_snapshot_job") for loc in deployment.fakes]
        deadline = time.monotonic() + 300
        while not all(instance.event_log_storage.get_concurrency_info(p).active_slot_count == 1 for p in pools):
            assert time.monotonic() < deadline, "the exports never took their pool slots"
            time.sleep(0.5)
        # Launched as from the launchpad: a sealed request (the email stays in a 0600 file) by id.
        request = PrivacyRequest.from_dict({"type": "access", "request_id": "acc_during_exports", "email": email})
        sealed.seal(deployment.data_root, request, "default", fake=False)
        run_config = privacy_defs.run_config_for(request.request_id, "access", "launchpad", "default")
        access = deployment.submit("intercom_pipeline", "access_job", run_config,
                                   tags={"privacy/request_id": request.request_id})
        assert deployment.wait(instance, [access]) == {access: "SUCCESS"}, deployment.failures(instance, [access])
        _latency(deployment, 0)
        assert set(deployment.wait(instance, exports).values()) == {"SUCCESS"}, deployment.failures(instance, exports)
    finally:
        _latency(deployment, 0)
    # Every step of the privacy run started while both exports were still running with their
    # pools' only slots: it never waited for them.
    steps = [e.timestamp for e in instance.all_logs(access, of_type=dg.DagsterEventType.STEP_START)]
    ended = [record.end_time for record in instance.get_run_records(dg.RunsFilter(run_ids=exports))]
    assert steps
    assert None not in ended
    assert max(steps) < min(t for t in ended if t is not None)


def _latency(deployment: Deployment, ms: int) -> None:
    for base_url in deployment.fakes.values():
        httpx.post(f"{base_url}/_emulator/faults", json={"latency_ms": ms}).raise_for_status()


def test_the_cli_run_lands_in_the_postgres_instance(deployment: Deployment):
    base_url = deployment.fakes["intercom_pipeline"]
    done = subprocess.run([sys.executable, "-m", "intercom_pipeline.cli", "access", "--email",
                           _contact_email(base_url), "--request-id", "cli_on_postgres", "--workspace", "default"],
                          env=deployment.env, cwd=deployment.home.parent / "elsewhere", capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    instance = deployment.instance()
    [record] = instance.get_run_records(dg.RunsFilter(tags={"privacy/request_id": "cli_on_postgres"}))
    assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    assert (deployment.home / "dagster.yaml").read_bytes() == (REPO / "deploy" / "dagster.yaml").read_bytes()
    assert not (deployment.data_root / "dagster_home").exists()  # no local instance on the side


def test_two_processes_with_separate_data_roots_share_one_budget(deployment: Deployment, tmp_path: Path):
    """As on two machines: each process has its own data root; the instance's Postgres holds the
    one bucket both draw from (counted per admitted request)."""
    base_url = deployment.fakes["intercom_pipeline_second"]
    app = _app_id(base_url)
    script = textwrap.dedent("""
        import sys
        import dagster as dg
        from intercom_pipeline.defs.resources import IntercomResource

        @dg.asset
        def calls(intercom: IntercomResource) -> None:
            client = intercom.client()
            client.me()  # names the workspace (as every asset does first): the bucket moves to Postgres
            for _ in range(40):
                client.request("GET", "/me")

        resource = IntercomResource(access_token=sys.argv[1], base_url=sys.argv[2], data_root=sys.argv[3])
        assert dg.materialize([calls], resources={"intercom": resource}, instance=dg.DagsterInstance.get()).success
    """)
    count = f'SELECT COUNT(*) FROM "ratelimit___intercom_{app.lower()}"'
    [(before,)] = deployment.sql(count)
    workers = [subprocess.Popen([sys.executable, "-c", script, TOKEN, base_url, str(tmp_path / f"root{i}")],
                                env=deployment.env, cwd=tmp_path, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
    [(after,)] = deployment.sql(count)
    assert after - before == 2 * 40  # every call after GET /me named the workspace, from each process
    for i in range(2):  # neither process kept a budget of its own
        assert not list((tmp_path / f"root{i}").rglob("*.sqlite"))
