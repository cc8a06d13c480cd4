"""Intercom webhooks: verify, deduplicate and durably queue notifications; act on them later.

No Dagster here. ``receiver`` is the small ASGI app behind ``intercom-pipeline webhooks``;
``signature`` checks ``X-Hub-Signature``; ``queue`` is the durable on-disk queue under the data
root; ``topics`` says what each topic means for this project; ``upstream`` erases contacts deleted,
archived or merged in Intercom itself; ``reconcile`` finds the deletions webhooks missed.
"""
