"""The fake workspace's generator: deterministic for a seed, with ground truth and every hard case.

- ``workspace``: ``generate(config)``, the whole workspace;
- ``base``: the shared context and helpers; ``text``: names, locales and free text;
- ``catalog``: attributes, tags, segments, admins and teams; ``contacts``: people and companies;
- ``content``: notes, events and articles; ``messages``: conversations and tickets.
"""
