"""Markdown summaries for asset metadata and the CLI. Field names and figures only, never values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from intercom_pipeline import charts

MAX_ROWS = 40


def classification_markdown(rows: Sequence[Mapping[str, Any]], limit: int = MAX_ROWS) -> str:
    """Personal-data fields first (by confidence), then a count of the rest."""
    pii = sorted((r for r in rows if r.get("category")), key=lambda r: (-float(r["confidence"]), r["field"]))
    lines = [f"**{len(pii)} of {len(rows)} fields hold personal data**", "",
             "| field | category | confidence | hit rate | values seen |", "|---|---|---|---|---|"]
    for row in pii[:limit]:
        lines.append(f"| `{row['field']}` | {row['category']} | {float(row['confidence']):.2f} | "
                     f"{float(row['hit_rate']):.2f} | {row['values_seen']} |")
    if len(pii) > limit:
        lines.append(f"| … {len(pii) - limit} more | | | | |")
    by_category = Counter(str(r["category"]) for r in pii)
    if by_category:
        lines += ["", "Fields per category: " + ", ".join(f"{c} {n}" for c, n in sorted(by_category.items()))]
    return "\n".join(lines)


def counts_markdown(rows: Iterable[Mapping[str, Any]]) -> str:
    lines = ["| subset | count | exact | 95% bounds | method |", "|---|---|---|---|---|"]
    for row in rows:
        bounds = "" if row.get("ci_low") is None else f"{row['ci_low']}–{row['ci_high']}"
        lines.append(f"| {row['subset']} | {row.get('count')} | {'yes' if row['exact'] else 'no'} | {bounds} | "
                     f"{row['method']} |")
    return "\n".join(lines)


def changes_markdown(rows: Sequence[Mapping[str, Any]], limit: int = MAX_ROWS) -> str:
    if not rows:
        return "No changes since the previous snapshot."
    lines = ["| change | object | name | old | new |", "|---|---|---|---|---|"]
    for row in rows[:limit]:
        lines.append(f"| {row['change']} | {row['object']} | `{row['name']}` | {row.get('old_value') or ''} | "
                     f"{row.get('new_value') or ''} |")
    if len(rows) > limit:
        lines.append(f"| … {len(rows) - limit} more | | | | |")
    return "\n".join(lines)


def inventory_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """Objects with counts, and attributes per object (custom / archived)."""
    lines = ["| object | subset | count | method |", "|---|---|---|---|"]
    for row in rows:
        if row["kind"] == "object":
            lines.append(f"| {row['object']} | {row['name']} | {row.get('count')} | {row.get('count_method')} |")
    attrs = Counter((r["object"], bool(r.get("custom")), bool(r.get("archived"))) for r in rows if r["kind"] == "attribute")
    lines += ["", "| object | standard attributes | custom attributes | archived |", "|---|---|---|---|"]
    for obj in sorted({key[0] for key in attrs}):
        standard = sum(n for (o, custom, _a), n in attrs.items() if o == obj and not custom)
        custom = sum(n for (o, c, _a), n in attrs.items() if o == obj and c)
        archived = sum(n for (o, _c, a), n in attrs.items() if o == obj and a)
        lines.append(f"| {obj} | {standard} | {custom} | {archived} |")
    return "\n".join(lines)


def category_chart(rows: Sequence[Mapping[str, Any]]) -> str:
    """Personal-data fields per category, as a bar chart."""
    by_category = Counter(str(r["category"]) for r in rows if r.get("category"))
    if not by_category:
        return "No field of this sample holds personal data."
    return charts.bar_chart(by_category.most_common(), "category", "fields")


def all_objects_markdown(rows_by_object: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """One line per object counted that day (its ``all`` row): count, exact or bounds, and a bar."""
    totals = {obj: next((r for r in rows if r["subset"] == "all"), None) for obj, rows in rows_by_object.items()}
    lines = ["| object | count | exact? | 95% bounds | |", "|---|---:|---|---|---|"]
    top = max((int(r["count"] or 0) for r in totals.values() if r), default=0) or 1
    for obj, row in sorted(totals.items(), key=lambda kv: -int((kv[1] or {}).get("count") or 0)):
        if row is None:
            continue
        count = int(row["count"] or 0)
        bounds = "" if row.get("ci_low") is None else f"{row['ci_low']}–{row['ci_high']}"
        bar = "█" * max(1 if count else 0, round(charts.WIDTH * count / top))
        lines.append(f"| {obj} | {count} | {'exact' if row['exact'] else 'estimated'} | {bounds} | {bar} |")
    return "\n".join(lines)
