"""The ``intercom-pipeline`` command line: ``main`` assembles one module per command family.

- ``main``: the parser and the entry point (``intercom-pipeline`` and ``python -m intercom_pipeline.cli``);
- ``intercom``: ``check-connection`` and ``connect``;
- ``privacy``: ``access``, ``delete`` and ``audit``;
- ``emulator``: ``emulator``, the fake Intercom on a socket;
- ``demo`` / ``demo_steps``: ``demo``, the main job end to end against the fake;
- ``ui``: ``ui``, ``dagster dev`` on this code location.
"""
