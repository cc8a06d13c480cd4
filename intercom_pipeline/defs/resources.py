"""Dagster resources (placeholder until the client work lands)."""

import dagster as dg

defs = dg.Definitions()
