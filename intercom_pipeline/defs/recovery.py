"""Dagster wiring of crash recovery: a sensor that fails dead runs and frees their pool slots.

Thin over ``intercom_pipeline.run_recovery``. Dagster's own run monitoring (``dagster.yaml``) cannot
see a dead process under the default run launcher or an in-process run; this sensor, on by default,
checks once a minute wherever a daemon runs, so a killed run never holds ``intercom_api`` slots for
long even when no command is started. The privacy CLI and the inbox sensor run the same check
before they start work. See https://docs.dagster.io/guides/automate/sensors.
"""

from __future__ import annotations

import dagster as dg

from intercom_pipeline import run_recovery
from intercom_pipeline.defs.resources import DataRootResource


def recover_and_log(context: dg.SensorEvaluationContext, data_root: DataRootResource) -> str:
    """Run the crash check; log what it repaired (run ids and counts only) and return that line."""
    line = run_recovery.recover(context.instance, data_root.path()).describe()
    if line:
        context.log.warning(line)
    return line


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Marks runs whose process died as failed, frees their pool slots, removes stale staging.")
def run_recovery_sensor(context: dg.SensorEvaluationContext, data_root: DataRootResource) -> dg.SkipReason:
    return dg.SkipReason(recover_and_log(context, data_root) or "no dead runs, held slots or stale staging")
