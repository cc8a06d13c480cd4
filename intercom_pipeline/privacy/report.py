"""The human-readable part of an access package: ``report.md`` and ``report.html``.

Both are built from one ``Report`` (so they never disagree) and say, for a data subject or the
privacy officer handing the package over:
- what was searched (the email, masked: ``j•••@e•••.com``), when, and in which workspace;
- what was found, per category, with counts — or, plainly, that nothing was found and where;
- what was left out and why (excluded fields such as note authors and bodies; other people's
  names and emails masked in conversations and tickets; categories not requested);
- where the machine-readable files are (name, records, sha256).
The HTML is self-contained (inline CSS, no script, no external resource) and prints on A4.
Nothing else goes in: no record values, so the report can be read before opening the data.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CATEGORY_LABELS = {
    "contacts": "Contact profiles (users and leads)",
    "companies": "Companies you are linked to",
    "notes": "Notes written about you",
    "conversations": "Conversations",
    "tickets": "Tickets",
}
WHY_EXCLUDED = {
    ("notes", "author"): "the teammate who wrote the note is another person",
    ("notes", "body"): "note bodies are written by teammates and may hold other people's data",
}
MASKING = ("In conversations and tickets, other people (teammates, other contacts, bots) are replaced by "
           "stable pseudonyms such as other_1, and email addresses that are not yours are masked.")


def mask_email(email: str) -> str:
    """``jane.doe@example.com`` -> ``j•••@e•••.com``: enough to recognise, not to reuse."""
    local, _, domain = email.strip().partition("@")
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    return f"{local[:1]}•••@{host[:1]}•••{dot}{tld}"


@dataclass
class Report:
    request_id: str
    searched: str  # the masked identifier
    received_at: str
    created_at: str
    workspace: str
    found: dict[str, int]  # category -> records (requested categories only)
    not_requested: list[str]
    left_out: list[str]
    files: list[tuple[str, int | None, str]] = field(default_factory=list)  # (file, records, sha256)

    @property
    def nothing_found(self) -> bool:
        return self.found.get("contacts", 0) == 0

    def summary(self) -> str:
        if self.nothing_found:
            return (f"Nothing was found. No contact in Intercom workspace {self.workspace} has the email "
                    f"{self.searched} (compared without regard to letter case), so Intercom holds no "
                    "profile, company link, note, conversation or ticket under it.")
        found = ", ".join(f"{n} {CATEGORY_LABELS[c].lower()}" for c, n in self.found.items())
        return f"Intercom workspace {self.workspace} holds data under {self.searched}: {found}."


def build(manifest: Mapping[str, Any], email: str, workspace: str) -> Report:
    request = manifest["request"]
    objects = manifest.get("objects", {})
    left_out = []
    for name, info in objects.items():
        for excluded in info.get("selection", {}).get("exclude", []):
            why = WHY_EXCLUDED.get((name, excluded), "left out by the request's field selection")
            left_out.append(f"{CATEGORY_LABELS[name]}: the field “{excluded}” — {why}.")
        if info.get("selection", {}).get("fields"):
            left_out.append(f"{CATEGORY_LABELS[name]}: only the fields {', '.join(info['selection']['fields'])} "
                            "were requested.")
    if {"conversations", "tickets"} & set(objects):
        left_out.append(MASKING)
    files = [(info["file"], info["count"], info["sha256"]) for info in objects.values()]
    files.append(("manifest.json", None, "the request (email as a salted hash), counts and checksums"))
    return Report(
        request_id=request["request_id"], searched=mask_email(email), received_at=request.get("received_at", ""),
        created_at=manifest["created_at"], workspace=workspace,
        found={name: int(manifest["counts"][name]) for name in objects},
        not_requested=[CATEGORY_LABELS[n] for n in CATEGORY_LABELS if n not in objects],
        left_out=left_out, files=files,
    )


def markdown(report: Report) -> str:
    lines = [f"# Access request {report.request_id}: your data in Intercom", "", report.summary(), "",
             "## What was searched", "",
             f"- Identifier: email {report.searched}",
             f"- Workspace: {report.workspace}",
             f"- Request received: {report.received_at}",
             f"- Searched and packaged: {report.created_at}", "",
             "## What was found", "", "| Category | Records |", "|---|---:|"]
    lines += [f"| {CATEGORY_LABELS[c]} | {n} |" for c, n in report.found.items()]
    lines += ["", "## What was left out, and why", ""]
    lines += [f"- {item}" for item in report.left_out] or ["- Nothing."]
    lines += [f"- {name}: not part of this request." for name in report.not_requested]
    lines += ["", "## The machine-readable files", "",
              "In this folder, beside this report (JSON, one file per category):", "",
              "| File | Records | sha256 |", "|---|---:|---|"]
    lines += [f"| {f} | {'' if n is None else n} | {digest} |" for f, n, digest in report.files]
    return "\n".join(lines) + "\n"


CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2433;max-width:52rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:1.8rem;border-bottom:1px solid #d5d9e0}
.summary{background:#f3f6fb;border-left:4px solid #3056d3;padding:.8rem 1rem}
.summary.empty{border-left-color:#8a94a6}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #e4e7ec}
td.n{text-align:right}code{font-size:.8em;word-break:break-all}
@media print{body{margin:0;max-width:none}.summary{background:none}@page{size:A4;margin:18mm}}
"""


def _rows(cells: list[list[str]], numeric: int | None = None) -> str:
    out = []
    for row in cells:
        tds = "".join(f'<td class="n">{c}</td>' if i == numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        out.append(f"<tr>{tds}</tr>")
    return "".join(out)


def to_html(report: Report) -> str:
    e = html.escape
    found = _rows([[e(CATEGORY_LABELS[c]), str(n)] for c, n in report.found.items()], numeric=1)
    files = _rows([[f"<code>{e(f)}</code>", "" if n is None else str(n), f"<code>{e(d)}</code>"]
                   for f, n, d in report.files], numeric=1)
    left = "".join(f"<li>{e(item)}</li>" for item in report.left_out) or "<li>Nothing.</li>"
    left += "".join(f"<li>{e(n)}: not part of this request.</li>" for n in report.not_requested)
    empty = " empty" if report.nothing_found else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Access request {e(report.request_id)}</title>
<style>{CSS}</style></head><body>
<h1>Access request {e(report.request_id)}: your data in Intercom</h1>
<p class="summary{empty}" id="summary">{e(report.summary())}</p>
<h2>What was searched</h2>
<table><tr><th>Identifier</th><td>email {e(report.searched)}</td></tr>
<tr><th>Workspace</th><td>{e(report.workspace)}</td></tr>
<tr><th>Request received</th><td>{e(report.received_at)}</td></tr>
<tr><th>Searched and packaged</th><td>{e(report.created_at)}</td></tr></table>
<h2>What was found</h2>
<table id="found"><tr><th>Category</th><th>Records</th></tr>{found}</table>
<h2>What was left out, and why</h2>
<ul>{left}</ul>
<h2>The machine-readable files</h2>
<p>In this folder, beside this report (JSON, one file per category):</p>
<table><tr><th>File</th><th>Records</th><th>sha256</th></tr>{files}</table>
</body></html>
"""
