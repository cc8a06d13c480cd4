"""Thin Dagster definitions. Each module wires one area's plain functions to Dagster objects."""
