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
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import httpx
import pytest
from dagster_graphql import DagsterGraphQLClient

from intercom_pipeline_tests.integration.postgres import postgres_cluster

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TOKEN = "integration-token"
EMAIL_JOB = {"access_job": "find_access_subject", "deletion_job": "plan_deletion_request"}


@dataclass
class Deployment:
    env: dict[str, str]
    data_root: Path
    home: Path
    fakes: dict[str, str]  # location -> base URL
    graphql: DagsterGraphQLClient

    def instance(self) -> dg.DagsterInstance:
        with _environ(self.env):
            return dg.DagsterInstance.from_config(str(self.home))

    def submit(self, location: str, job: str, run_config: dict | None = None, tags: dict | None = None) -> str:
        # Steps in the run worker's process (pools still apply): a 2-core CI machine runs 8 runs at once.
        config = {**(run_config or {}), "execution": {"config": {"in_process": {}}}}
        return self.graphql.submit_job_execution(job, repository_location_name=location,
                                                 repository_name="__repository__", run_config=config,
                                                 tags=tags or {})

    def wait(self, instance: dg.DagsterInstance, run_ids: list[str], timeout: float = 600) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            statuses = {r: instance.get_run_by_id(r).status for r in run_ids}
            if all(s in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
                   for s in statuses.values()):
                return {r: s.value for r, s in statuses.items()}
            time.sleep(1)
        raise AssertionError(f"runs not finished after {timeout} s: {statuses}")


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
    for folder in (home, elsewhere):
        folder.mkdir()
    shutil.copyfile(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")  # the operator's instance
    processes: list[subprocess.Popen] = []
    with postgres_cluster() as url:
        pg = urlparse(url)
        try:
            fake_a, url_a = _start_fake(7, base / "fake_a.log")
            fake_b, url_b = _start_fake(8, base / "fake_b.log")
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
                                                  env=env, cwd=elsewhere, stdout=(base / f"{name}.log").open("w"),
                                                  stderr=subprocess.STDOUT, start_new_session=True))
            _wait_http(f"http://127.0.0.1:{port}/server_info", processes[-1])
            client = DagsterGraphQLClient("127.0.0.1", port_number=port)
            _wait_for_locations(client, port)
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


def _privacy_config(job: str, email: str, request_id: str) -> dict:
    return {"ops": {EMAIL_JOB[job]: {"config": {"email": email, "request_id": request_id, "source": "launchpad"}}}}


def test_both_workspaces_run_access_deletion_exports_and_detection_concurrently(deployment: Deployment):
    instance = deployment.instance()
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    today = datetime.now(UTC).date().isoformat()
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    window = (hour.replace(hour=hour.hour - 1) if hour.hour else hour).strftime("%Y-%m-%d-%H:%M")
    runs = {}
    for location, base_url in deployment.fakes.items():
        email = _contact_email(base_url)
        runs[(location, "exports")] = deployment.submit(location, "exports_snapshot_job",
                                                        tags={"dagster/partition": today})
        runs[(location, "detection")] = deployment.submit(location, "detection_job", tags={"dagster/partition": window})
        runs[(location, "access")] = deployment.submit(location, "access_job",
                                                       _privacy_config("access_job", email, f"acc_{location}"))
        runs[(location, "deletion")] = deployment.submit(location, "deletion_job",
                                                         _privacy_config("deletion_job", email, f"del_{location}"))
    statuses = deployment.wait(instance, list(runs.values()))
    assert set(statuses.values()) == {"SUCCESS"}, statuses
    for location, base_url in deployment.fakes.items():
        app = _app_id(base_url)
        assert list((deployment.data_root / "exports" / "tags" / f"workspace={app}").rglob("*.parquet"))
        assert list((deployment.data_root / "detection" / "inventory" / f"workspace={app}").rglob("*.parquet"))
        tags = instance.get_run_by_id(runs[(location, "deletion")]).tags
        receipt = deployment.data_root / tags["privacy/result"]
        assert receipt.is_file()
        assert app in receipt.read_text()  # the receipt names the workspace it acted on
        stats = httpx.get(f"{base_url}/_emulator/stats").json()
        assert stats["by_endpoint"]["DELETE /contacts/{contact_id}"].get("200", 0) >= 1
    # one budget per workspace in the instance's own database (the instance is on Postgres)
    import psycopg

    env = deployment.env
    with psycopg.connect(host=env["DAGSTER_PG_HOST"], port=int(env["DAGSTER_PG_PORT"]), user="postgres",
                         dbname="dagster") as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'ratelimit%'")}
    assert {f"ratelimit___intercom_{_app_id(u).lower()}" for u in deployment.fakes.values()} <= tables


def test_a_privacy_run_starts_while_both_workspaces_exports_hold_their_slots(deployment: Deployment):
    instance = deployment.instance()
    pools = ("intercom_api/default", "intercom_api/second")
    for pool in pools:
        instance.event_log_storage.set_concurrency_slots(pool, 1)
    # Slow every call down (1.5 s) so the exports hold their slots for minutes; the privacy run
    # needs a handful of calls.
    _latency(deployment, 1500)
    try:
        today = datetime.now(UTC).date().isoformat()
        exports = [deployment.submit(loc, "exports_snapshot_job", tags={"dagster/partition": today})
                   for loc in deployment.fakes]
        deadline = time.monotonic() + 300
        while not all(instance.event_log_storage.get_concurrency_info(p).active_slot_count == 1 for p in pools):
            assert time.monotonic() < deadline, "the exports never took their pool slots"
            time.sleep(0.5)
        location, base_url = next(iter(deployment.fakes.items()))
        access = deployment.submit(location, "access_job",
                                   _privacy_config("access_job", _contact_email(base_url), "acc_during_exports"))
        assert deployment.wait(instance, [access]) == {access: "SUCCESS"}
        # the exports still held their slots (and were still running) when the privacy run finished
        assert {instance.get_run_by_id(r).status for r in exports} == {dg.DagsterRunStatus.STARTED}
        assert all(instance.event_log_storage.get_concurrency_info(p).active_slot_count == 1 for p in pools)
        _latency(deployment, 0)
        assert set(deployment.wait(instance, exports).values()) == {"SUCCESS"}
    finally:
        _latency(deployment, 0)


def _latency(deployment: Deployment, ms: int) -> None:
    for base_url in deployment.fakes.values():
        httpx.post(f"{base_url}/_emulator/faults", json={"latency_ms": ms}).raise_for_status()


def test_the_cli_run_lands_in_the_postgres_instance(deployment: Deployment):
    base_url = deployment.fakes["intercom_pipeline"]
    done = subprocess.run([sys.executable, "-m", "intercom_pipeline.cli", "access", "--email",
                           _contact_email(base_url), "--request-id", "cli_on_postgres"],
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
    import psycopg

    env = deployment.env
    connect = {"host": env["DAGSTER_PG_HOST"], "port": int(env["DAGSTER_PG_PORT"]), "user": "postgres",
               "dbname": "dagster"}
    table = f"ratelimit___intercom_{app.lower()}"
    with psycopg.connect(**connect) as conn:
        before = conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]  # noqa: S608 (test's own table)
    workers = [subprocess.Popen([sys.executable, "-c", script, TOKEN, base_url, str(tmp_path / f"root{i}")],
                                env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
    with psycopg.connect(**connect) as conn:
        after = conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]  # noqa: S608
    assert after - before == 2 * 40  # every call after GET /me named the workspace, from each process
    for i in range(2):  # neither process kept a budget of its own
        assert not list((tmp_path / f"root{i}").rglob("*.sqlite"))
