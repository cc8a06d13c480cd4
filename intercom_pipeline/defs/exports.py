"""Dagster definitions for exports (placeholder until the exports work lands)."""

import dagster as dg

defs = dg.Definitions()
