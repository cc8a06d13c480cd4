"""Dagster definitions for detection (placeholder until the detection work lands)."""

import dagster as dg

defs = dg.Definitions()
