"""Privacy requests (access and deletion) for one data subject, identified by email.

Plain modules, no Dagster: ``requests`` (the validated request), ``access`` and ``access_package``
(find, fetch, package), ``deletion`` and ``ledger`` (plan, delete, verify, erase, receipt —
resumable), ``results`` (the typed values one step hands the next), ``audit`` (hash-chained log), ``manual`` (the by-hand fallback), ``inbox`` (request files)
and ``commands`` (CLI). ``intercom_pipeline.defs.privacy`` wires them into Dagster jobs.
"""
