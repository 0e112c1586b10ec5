"""report.html: one self-contained page (inline CSS, PNG data URIs, one tiny inline script).

Every string from the journal or the manifest is untrusted (goals and observations come from
agent runs), so every table cell is HTML-escaped unless it is a `Raw` fragment this module
built itself. A Content-Security-Policy admits only data: images and the page's own style and
script (by hash): even a string that escaped escaping could neither run nor load anything.
The script checks that every image decoded and records it as `<body data-images-ok>`, which a
headless browser can read back (tests/test_report.py).
"""
from __future__ import annotations

import base64
import hashlib
import html
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

TITLE = "agenther-local run report"
SECTIONS = ("Run summary", "1. Funnel", "2. Distributions", "3. Jurors",
            "4. Why records were rejected", "5. Goal diversity", "6. Example relabels")

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#222;
 margin:0;background:#f6f6f4}
main{max-width:1180px;margin:0 auto;padding:16px 28px 48px;background:#fff}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:19px;margin:34px 0 8px;padding-top:10px;border-top:2px solid #e4e4e0}
h3{font-size:15px;margin:18px 0 6px}
nav a{margin-right:14px;color:#4C72B0;text-decoration:none}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border-bottom:1px solid #e4e4e0;padding:4px 10px 4px 0;text-align:left;vertical-align:top}
th{font-weight:600;color:#555}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.nw{white-space:nowrap}
tbody tr:nth-child(even){background:#fafaf8}
.muted{color:#777}.note{background:#fff8e1;border-left:4px solid #f0c040;padding:6px 10px;margin:8px 0}
.charts{display:flex;flex-wrap:wrap;gap:12px}img{max-width:100%;height:auto;border:1px solid #eee}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
table.examples td{max-width:300px;overflow-wrap:anywhere}table.examples td:last-child{max-width:640px}mark{background:#ffe08a}
.yes{color:#2e7d32;font-weight:600}.no{color:#c62828;font-weight:600}
ul.votes,ul.ev{margin:0;padding-left:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:0 32px}.grid .wide{grid-column:1/-1}
"""

SCRIPT = """window.addEventListener("load",function(){var i=Array.prototype.slice.call(document.images);
document.body.dataset.imagesOk=String(i.every(function(m){return m.complete&&m.naturalWidth>0}));
document.body.dataset.images=String(i.length)});"""


class Raw(str):
    """HTML this module built; inserted as is (everything else is escaped)."""


def esc(x: Any) -> str:
    return x if isinstance(x, Raw) else html.escape(str(x), quote=True)


def num(x: Any, digits: int = 3) -> str:
    """
    >>> num(0.12345), num(None), num(float("nan")), num(7)
    ('0.123', '—', '—', '7')
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, bool) or isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def clip(text: str, limit: int = 240) -> str:
    """
    >>> clip("abcdef", 4)
    'abc…'
    """
    return text if len(text) <= limit else text[:limit - 1] + "…"


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = (),
          cls: str = "") -> Raw:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>{esc(c)}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return Raw(f"<table{f' class={cls}' if cls else ''}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def note(text: str) -> Raw:
    return Raw(f'<p class="note">{esc(text)}</p>')


def img(src: str, alt: str) -> Raw:
    return Raw(f'<img src="{esc(src)}" alt="{esc(alt)}">')


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@dataclass
class Section:
    title: str
    parts: list[str] = field(default_factory=list)

    def add(self, *parts: Any) -> "Section":
        self.parts.extend(p if isinstance(p, Raw) else Raw(f"<p>{esc(p)}</p>") for p in parts)
        return self


def anchor(title: str) -> str:
    """
    >>> anchor("4. Why records were rejected")
    'why-records-were-rejected'
    """
    words = "".join(c if c.isalnum() else " " for c in title.lower()).split()
    return "-".join(w for w in words if not w.isdigit())


def page(subtitle: str, sections: Sequence[Section]) -> str:
    nav = " ".join(f'<a href="#{anchor(s.title)}">{esc(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{anchor(s.title)}"><h2>{esc(s.title)}</h2>{"".join(s.parts)}</section>'
                   for s in sections)
    csp = (f"default-src 'none'; img-src data:; style-src {_hash(STYLE)}; script-src {_hash(SCRIPT)}; "
           "base-uri 'none'; form-action 'none'")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(TITLE)}</title><style>{STYLE}</style></head>\n"
            f'<body><main><h1>{esc(TITLE)}</h1><p class="muted">{esc(subtitle)}</p><nav>{nav}</nav>\n'
            f"{body}\n</main><script>{SCRIPT}</script></body></html>\n")
