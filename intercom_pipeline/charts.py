"""Pictures for the Dagster UI that need no image: Markdown bar charts (Dagster renders Markdown
metadata on asset pages). Labels and figures only, never a record's value."""

from __future__ import annotations

from collections.abc import Sequence

WIDTH = 30  # blocks for the largest bar


def bar_chart(items: Sequence[tuple[str, int]], label: str = "item", value: str = "count", width: int = WIDTH,
              limit: int = 40) -> str:
    """A two-column table whose third column is a bar proportional to the value."""
    shown = list(items)[:limit]
    top = max((n for _k, n in shown), default=0) or 1
    lines = [f"| {label} | {value} | |", "|---|---:|---|"]
    for key, n in shown:
        blocks = round(width * n / top)
        lines.append(f"| {key} | {n} | {'█' * (blocks or (1 if n else 0))} |")
    if len(items) > limit:
        rest = list(items)[limit:]
        lines.append(f"| … {len(rest)} more | {sum(n for _k, n in rest)} | |")
    return "\n".join(lines)
