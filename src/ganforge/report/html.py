"""The report page: plain HTML with a small inline stylesheet, no script, nothing fetched.

A Content-Security-Policy in the page itself allows images from ``data:`` URIs and inline styles
only, so the browser refuses any network fetch: the page renders the same offline, years later,
mailed as an attachment. Every string from the run dir is escaped (config values, warning messages
and file names are user text).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg-soft: #f6f8fa; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--fg); }
main { max-width: 1120px; margin: 0 auto; padding: 20px 20px 60px; }
header h1 { font-size: 24px; margin: 0 0 2px; }
header p { margin: 0; color: var(--muted); }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line);
      padding: 6px 0; margin: 12px 0 8px; z-index: 1; }
nav a { color: #0969da; text-decoration: none; margin-right: 14px; font-size: 13px; }
section { margin-top: 26px; }
h3 { font-size: 14px; margin: 0 0 6px; }
.facts h3:not(:first-child) { margin-top: 16px; }
h2 { font-size: 18px; border-bottom: 1px solid var(--line); padding-bottom: 4px; margin: 0 0 10px; }
img.fig { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg-soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: var(--bg-soft); border: 1px solid var(--line); padding: 10px; overflow-x: auto;
      font-size: 12px; line-height: 1.4; }
p.note { color: var(--muted); font-style: italic; margin: 6px 0; }
p.error { color: #cf222e; font-weight: 600; }
.timeline { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 12px; }
figure { margin: 0; }
figure img { width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { font-size: 12px; color: var(--muted); text-align: center; }
.facts { display: flex; gap: 28px; flex-wrap: wrap; align-items: flex-start; }
.warn { color: var(--warn); font-weight: 600; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """Numbers compactly (4 significant digits, thousands separators for big ints); others as text."""
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        return f"{value:,.0f}" if abs(value) >= 1e3 else f"{value:.4g}"
    return str(value)


@dataclass
class Section:
    """One ``<section id=...>`` of the page; ``body`` is already-safe HTML."""

    id: str
    title: str
    body: str
    nav: bool = True


@dataclass
class Page:
    title: str
    subtitle: str
    sections: list[Section] = field(default_factory=list)


def img(uri: str, alt: str, css: str = "fig") -> str:
    return f'<img class="{css}" src="{esc(uri)}" alt="{esc(alt)}">'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def figure(uri: str, caption: str) -> str:
    return f"<figure>{img(uri, caption, css='sample')}<figcaption>{esc(caption)}</figcaption></figure>"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    """A table of escaped cells; columns in ``numeric`` are formatted with ``fmt`` and right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if i in numeric:
                cells.append(f'<td class="num">{esc(fmt(cell))}</td>')
            else:
                cells.append(f"<td>{esc(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def facts_table(facts: Sequence[tuple[str, Any]]) -> str:
    """Two-column key/value table (values through ``fmt``)."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(fmt(v))}</td></tr>" for k, v in facts)
    return f"<table><tbody>{rows}</tbody></table>"


def render(page: Page) -> str:
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in page.sections if s.nav)
    sections = "\n".join(
        f'<section id="{esc(s.id)}">\n<h2>{esc(s.title)}</h2>\n{s.body}\n</section>' for s in page.sections
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(page.title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header><h1>{esc(page.title)}</h1><p>{esc(page.subtitle)}</p></header>
<nav>{nav}</nav>
{sections}
</main>
</body>
</html>
"""


__all__ = ["CSP", "Page", "Section", "esc", "facts_table", "figure", "fmt", "img", "note", "render", "table"]
