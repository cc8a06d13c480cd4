"""Dagster definitions for privacy (placeholder until the privacy work lands)."""

import dagster as dg

defs = dg.Definitions()
