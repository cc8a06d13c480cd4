"""The steps of ``intercom-pipeline demo``, each a small function over the shared ``DemoRun``.

Kept apart from ``demo.py`` (the command and its summary) so that each step reads on its own:
what it launches, and which row it adds to the summary.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import dagster as dg
import orjson

from intercom_pipeline.cli.demo import dataset_rows, drop_in_inbox, new_request_id

if TYPE_CHECKING:
    from intercom_pipeline.cli.demo import DemoRun

INBOX_SENSOR = "privacy_inbox_sensor"


def steps(run: DemoRun) -> list[tuple[str, Callable[[DemoRun], None]]]:
    return [
        ("check the connection", check_connection),
        ("system detection: inventory and change feed", detection),
        ("data discovery: counts, samples, classification", discovery),
        ("analytics exports: every stream, then the DuckDB warehouse", exports),
        ("privacy: one access and one deletion through the inbox sensor", privacy_requests),
        ("audit log: verify the hash chain", verify_audit),
    ]


def _intercom(run: DemoRun):
    """The configured Intercom resource, with its EnvVars resolved as a run would resolve them."""
    with dg.build_resources({"intercom": (run.defs.resources or {})["intercom"]}) as resources:
        return resources.intercom


def check_connection(run: DemoRun) -> None:
    report = _intercom(run).check_connection()
    run.workspace = report.workspace_id
    where = "the embedded fake Intercom" if run.connection.fake else run.connection.config.api_url
    run.rows.append(("workspace", report.workspace_id, where))
    missing = [cap for cap, allowed in report.capabilities.items() if not allowed]
    if missing:
        raise RuntimeError(f"the token lacks scopes for: {', '.join(missing)}")


def detection(run: DemoRun) -> None:
    from intercom_pipeline.defs.detection import detection_partitions

    window = detection_partitions(run.location).get_last_partition_key()
    run.execute("detection_job", partition_key=window)
    for dataset in ("inventory", "changes"):
        path = run.root / "detection" / dataset
        run.rows.append((f"detection/{dataset}", f"{dataset_rows(path)} rows", str(path)))


def discovery(run: DemoRun) -> None:
    from intercom_pipeline.discovery.objects import OBJECT_NAMES

    today = datetime.now(UTC).date().isoformat()
    for name in OBJECT_NAMES:
        run.execute("discovery_job", partition_key=dg.MultiPartitionKey({"date": today, "object": name}))
    for dataset in ("counts", "samples", "classification"):
        path = run.root / "discovery" / dataset
        run.rows.append((f"discovery/{dataset}", f"{dataset_rows(path)} rows", str(path)))


def exports(run: DemoRun) -> None:
    from intercom_pipeline.defs.exports import first_partition, month_of

    start = run.location.start
    run.execute("exports_snapshot_job")
    run.execute("exports_incremental_job", tags={  # every month of history, in one run
        "dagster/asset_partition_range_start": first_partition(start),
        "dagster/asset_partition_range_end": month_of(datetime.now(UTC).date(), start),
    })
    run.execute("warehouse_job")
    for stream in sorted(p.name for p in (run.root / "exports").iterdir()
                         if p.is_dir() and not p.name.startswith(".")):
        path = run.root / "exports" / stream
        run.rows.append((f"exports/{stream}", f"{dataset_rows(path)} rows", str(path)))
    warehouse = run.root / "warehouse.duckdb"
    run.rows.append(("warehouse", f"{warehouse.stat().st_size // 1024} KiB", str(warehouse)))


def _subject_emails(run: DemoRun) -> tuple[str, str]:
    """Emails for the access and the deletion request.

    On the fake: a user and a lead who share one email (access), and an address held by several
    contacts in different letter cases (deletion) — two of the hard cases. On a real workspace the
    first user's email serves both; the deletion is then a dry run.
    """
    if run.connection.fake:
        hard = run.connection.emulator.hard_cases
        return hard["shared_email"]["email"], hard["case_variants"]["emails"][0]
    client = _intercom(run).client()
    query = {"field": "role", "operator": "=", "value": "user"}
    email = next(c["email"] for c in client.search("contacts", query, per_page=50) if c.get("email"))
    return email, email


def privacy_requests(run: DemoRun) -> None:
    access_email, deletion_email = _subject_emails(run)
    dry_run = not run.connection.fake  # never delete in a real workspace
    access: dict[str, Any] = {"request_id": new_request_id("access"), "type": "access",
              "identifier": {"category": "email", "value": access_email}}
    deletion: dict[str, Any] = {"request_id": new_request_id("deletion"), "type": "deletion",
                "identifier": {"category": "email", "value": deletion_email}, "options": {"dry_run": dry_run}}
    for request in (access, deletion):
        path = drop_in_inbox(run.root, request)
        settled = time.time() - 60  # the sensor leaves files younger than 2 s for the next tick
        os.utime(path, (settled, settled))
    launched = _tick_inbox_sensor(run)
    if sorted(launched) != sorted([access["request_id"], deletion["request_id"]]):
        raise RuntimeError(f"the inbox sensor launched {launched}, expected both requests")
    package = run.root / "privacy" / "access" / access["request_id"]
    manifest = orjson.loads((package / "manifest.json").read_bytes())
    counts = ", ".join(f"{k} {v}" for k, v in manifest.get("counts", {}).items())
    run.rows.append(("access package", counts or "written", str(package)))
    folder = run.root / "privacy" / "deletion" / deletion["request_id"]
    receipt = folder / "receipt.json"
    if dry_run:
        run.rows.append(("deletion (DRY RUN)", "nothing deleted", str(folder)))
    else:
        counts = orjson.loads(receipt.read_bytes())["counts"]
        figure = f"{counts['deleted']} deleted, {counts['local_files_rewritten']} files erased"
        run.rows.append(("deletion receipt", figure, str(receipt)))


def _tick_inbox_sensor(run: DemoRun) -> list[str]:
    """Evaluate the inbox sensor once, as the daemon would, and run what it requests."""
    sensor = run.defs.resolve_sensor_def(INBOX_SENSOR)
    context = dg.build_sensor_context(instance=run.instance, resources=run.defs.resources,
                                      definitions=run.defs)
    result = sensor(context)
    if not isinstance(result, dg.SensorResult):  # the inbox sensor always answers a SensorResult
        raise RuntimeError(f"the inbox sensor answered {type(result).__name__}, expected a SensorResult")
    requests = list(result.run_requests or [])
    for request in requests:
        if request.job_name is None or request.run_key is None:
            raise RuntimeError(f"the inbox sensor asked for a run without a job or run key: {request}")
        tags = {**request.tags, "dagster/run_key": request.run_key, "dagster/sensor_name": INBOX_SENSOR}
        run.execute(request.job_name, run_config=dict(request.run_config), tags=tags)
    return [str(request.run_key) for request in requests]


def verify_audit(run: DemoRun) -> None:
    from intercom_pipeline.privacy import audit

    outcome = audit.verify(run.root)
    path = run.root / "privacy" / "audit.jsonl"
    if not outcome.ok:
        raise RuntimeError(outcome.describe())
    run.rows.append(("audit chain", f"{outcome.entries} entries ok", str(path)))


def api_calls(run: DemoRun) -> str:
    if run.connection.fake:
        total = run.connection.emulator.stats()["total"]
        limit = run.connection.emulator.config.rate_limit_per_minute
        return f"{total} calls to the fake (budget {limit} calls/min)"
    return "see each run's metadata (calls, retries, 429s)"
