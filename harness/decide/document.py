"""A tiny document model rendered twice: Markdown for a terminal or a pull request, HTML (with
inline SVG charts) for a browser. Report sections build blocks; they do not format text."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from harness.decide.charts import Chart

REPORT_MD, REPORT_HTML = "report.md", "report.html"


# -- a tiny document model --------------------------------------------------------------------


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str
    css: str = ""


@dataclass
class Bullets:
    items: list[str]
    css: str = ""


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    # per row: a CSS class for the HTML (e.g. "invalid") — Markdown marks flags in the text
    row_css: list[str] = field(default_factory=list)


@dataclass
class Code:
    text: str


@dataclass
class Figure:
    chart: Chart


Block = Heading | Para | Bullets | Table | Code | Figure


# -- formatting -------------------------------------------------------------------------------


def num(value: Any, fmt: str = "{:.1f}", scale: float = 1.0) -> str:
    return "–" if value is None else fmt.format(value / scale)


def ci_text(summary: dict[str, Any], fmt: str = "{:.0f}") -> str:
    if summary.get("mean") is None:
        return "–"
    text = fmt.format(summary["mean"])
    if summary.get("ci95"):
        lo, hi = summary["ci95"]
        text += f" [{fmt.format(lo)}–{fmt.format(hi)}]"
    return text


# -- renderers --------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_md(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {i}" for i in b.items))
        elif isinstance(b, Table):
            lines = ["| " + " | ".join(_md_cell(h) for h in b.headers) + " |"]
            lines.append("|" + "---|" * len(b.headers))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("\n".join(lines))
        elif isinstance(b, Code):
            out.append(f"```\n{b.text}\n```")
        elif isinstance(b, Figure):
            out.append(f"*Chart `{b.chart.id}`: see {REPORT_HTML} (inline SVG).*")
    return "\n\n".join(out) + "\n"


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;
padding:0 1rem;color:#1b1b1b}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:13px}
th,td{border:1px solid #d0d0d0;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}tr.flag td,tr.invalid td{background:#fff4e0}
p.flag,ul.flag{color:#8a4b00}p.caption{color:#555;font-size:12px;margin-top:0}
figure{margin:0}svg.chart{max-width:100%;height:auto}
div.table{overflow-x:auto;max-width:100%}td:first-child{white-space:nowrap}
pre{background:#f6f6f6;padding:.5rem;overflow-x:auto;white-space:pre-wrap}
"""


LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def _inline(text: str) -> str:
    """Escape, then the Markdown the blocks use: **bold**, `code`, [text](relative link)."""
    parts = html.escape(text, quote=False).split("**")
    out = "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
    codes = out.split("`")
    if len(codes) % 2:  # balanced backticks only
        out = "".join(f"<code>{c}</code>" if i % 2 else c for i, c in enumerate(codes))
    return LINK.sub(lambda m: f'<a href="{html.escape(m[2])}">{m[1]}</a>', out)


def render_html(blocks: list[Block], title: str) -> str:
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            cls = f' class="{b.css}"' if b.css else ""
            body.append(f"<p{cls}>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            cls = f' class="{b.css}"' if b.css else ""
            body.append(f"<ul{cls}>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.headers)
            rows = []
            for i, row in enumerate(b.rows):
                css = b.row_css[i] if i < len(b.row_css) and b.row_css[i] else ""
                cls = f' class="{css}"' if css else ""
                rows.append(
                    f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                )
            body.append(  # a wide table scrolls inside its box; the page never does
                f'<div class="table"><table><thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(rows)}</tbody></table></div>"
            )
        elif isinstance(b, Code):
            body.append(f"<pre><code>{html.escape(b.text)}</code></pre>")
        elif isinstance(b, Figure):
            body.append(f'<figure data-chart="{b.chart.id}">{b.chart.svg}</figure>')
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
