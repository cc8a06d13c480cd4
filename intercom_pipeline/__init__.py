"""intercom-pipeline: privacy requests, data discovery and analytics exports for Intercom.

Layers, from the bottom up:
- ``emulator``: a faithful fake of Intercom's REST API 2.11 (imports nothing from the client).
- ``intercom``: the Intercom client (imports nothing from Dagster).
- ``privacy``, ``discovery``, ``exports``: plain domain modules, tested without Dagster.
- ``defs``: thin Dagster definitions that wire the domain modules to assets, jobs, schedules and sensors.
"""
