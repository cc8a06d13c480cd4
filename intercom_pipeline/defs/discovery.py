"""Dagster definitions for discovery (placeholder until the discovery work lands)."""

import dagster as dg

defs = dg.Definitions()
