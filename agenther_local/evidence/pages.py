"""Pages: what a browser agent saw, cut into records, and which of its clicks took effect.

A web adapter (browser_use, agentlab, openai's element-list turns) writes each page into the
observation of the step that led to it, after a marker line `=== page: <url> | <title> ===`,
as the agent saw it: browser-use's element list (`[12]<button id=save />` with its text on
the lines below, indented) or BrowserGym's accessibility tree (`[12] button 'Save', focused`).

Records (`page_records`, called by evidence/records.py for such an observation):
- a *unit*: the smallest element whose text fits `PageConfig.unit_chars` (a list row with its
  sender, subject and labels; a radio button with its label; a switch), with its tag or role,
  its key attributes (id, name, value, checked, aria-*), the state of the controls inside it,
  its section (the text lines above it among its siblings: a settings heading) and the page's
  URL and title;
- a *text* record: a run of text lines outside any unit (a heading and its description);
- the page itself (URL and title) and what the action returned (as plain text records).

Web actions (`web_actions`, called by evidence/actions.py for a run whose adapter marked it
`metadata["pages"]`): navigating, scrolling, searching and opening are reads; a click on an
element whose words say it changes state (`data/web.toml`: save, delete, star, ...) or on a
toggle (checkbox, radio, switch), an option picked in a select, and typing into a field are
writes. A write *succeeded* only when the first page after it shows its effect: the element
(found again by its id, name or label, since indices change) in another state, a new line
with a confirmation word ("Filter created"), the typed value shown outside the field, or
the row it acted on gone from the list. No page showing an effect leaves the status
`unknown`: no goal may claim it. The agent's own words (`evaluation_previous_goal`, memory,
its final message) are never read here. A write's arguments become what the page shows of
it: the element, its row and section, what was typed, and the effect; its scope is that, not
the whole page (Action.page).

Not handled: effects that show only on a page the agent never opened again (status unknown),
pages as raw HTML (`pruned_html` is not read; the accessibility tree is), iframes.
"""
from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from ..config import PageConfig

PAGE_MARK = re.compile(r"^=== page: (.*?) \| (.*) ===$", re.M)
_CFG = PageConfig()
# browser-use: "\t*[123]<tag attrs />rest", with "|SHADOW(open)|" / "|scroll element|" prefixes
_BU_LINE = re.compile(r"^(?P<ind>\t*)(?:\|[^|]*\|)*\*?(?:\[(?P<idx>\d+)\])?<(?P<tag>[a-zA-Z][\w-]*)(?P<attrs>[^>]*?)\s*/?>(?P<rest>.*)$")
# BrowserGym accessibility tree: "\t[a12] role 'name', prop, key='value'"
_AX_LINE = re.compile(r"^(?P<ind>\t*)(?:\[(?P<idx>[\w-]+)\]\s+)?(?P<tag>[A-Za-z]+)(?:\s+'(?P<name>(?:[^'\\]|\\.)*)')?(?P<rest>(?:,.*)?)$")
_ATTR = re.compile(r"(?:^|\s)([a-zA-Z_][\w:.-]*)=")
_AX_PROP = re.compile(r"([\w-]+)=(?:'((?:[^'\\]|\\.)*)'|(\S+?))(?=,|$)")
_NOISE = re.compile(r"^\[(?:Start|End) of page\]$|^\.\.\. .* (?:above|below) \.\.\.$|^<!--")
_KEY_ATTRS = ("id", "name", "type", "role", "value", "checked", "aria-checked", "aria-pressed", "aria-selected",
              "selected", "data-checked", "aria-label", "title", "placeholder", "aria-expanded", "disabled", "href")
STATE_ATTRS = ("checked", "aria-checked", "aria-pressed", "aria-selected", "selected", "data-checked", "value",
               "expanded", "aria-expanded")


@lru_cache(maxsize=1)
def words() -> dict[str, Any]:
    text = resources.files("agenther_local").joinpath("data/web.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    return {sec: ({k: v for k, v in table.items()} if sec in ("banner", "checker") else
                  {k: frozenset(v.split()) for k, v in table.items()}) for sec, table in raw.items()}


@dataclass
class Node:
    kind: str                          # el | text
    depth: int
    start: int
    end: int
    tag: str = ""
    idx: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""                     # a text line's text, or an element's accessible name
    children: list["Node"] = field(default_factory=list)
    parent: "Node | None" = None

    def texts(self) -> list[str]:
        out = [self.text] if self.text else []
        for c in self.children:
            out += c.texts()
        return out

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def label(self) -> str:
        """What a person calls the element: its text, else its row's short text (a radio's
        "Compact"), else its aria-label/title/placeholder, else (a checkbox or radio input) the
        text line right after it, else the text line just above it among its siblings (a
        switch's "Mobile")."""
        t = " ".join(self.texts()).strip()
        if t:
            return t
        row = row_of(self)
        rt = " · ".join(row.texts()) if row is not self else ""
        if rt and len(rt) <= 80:
            return rt
        for k in ("aria-label", "title", "placeholder"):
            if self.attrs.get(k):
                return self.attrs[k]
        if self.tag == "input" and self.attrs.get("type") in ("checkbox", "radio"):
            # HTML puts a box's label text after it ("[3]<input type=checkbox /> Never mark as important")
            sibs = self.parent.children if self.parent is not None else []
            nxt = sibs[sibs.index(self) + 1] if self in sibs and sibs.index(self) + 1 < len(sibs) else None
            if nxt is not None and nxt.kind == "text":
                return nxt.text
        return heading(self, 1) or self.attrs.get("name", "") or self.attrs.get("value", "")

    def key(self) -> str:
        """The element's identity across pages (its index changes on every page)."""
        a = self.attrs
        if a.get("id"):
            return f"id={a['id']}"
        if a.get("name") and a.get("value"):
            return f"name={a['name']}&value={a['value']}"
        for k in ("data-testid", "aria-label", "title", "name"):
            if a.get(k):
                return f"{k}={a[k]}"
        return f"{self.tag}:{self.label()[:60]}@{heading(self, 2)[:60]}"

    def state(self) -> tuple[tuple[str, str], ...]:
        """The state attributes of the element and the controls inside it."""
        return tuple((f"{n.tag}.{k}" if n is not self else k, n.attrs[k]) for n in self.walk()
                     for k in STATE_ATTRS if n.kind == "el" and k in n.attrs)


@dataclass(frozen=True)
class Page:
    url: str
    title: str
    start: int                         # offset of the page's first element line in the observation
    roots: tuple[Node, ...]
    by_index: dict[str, Node]

    def nodes(self):
        for r in self.roots:
            yield from r.walk()

    def lines(self) -> set[str]:
        return {n.text for n in self.nodes() if n.kind == "text" and n.text}


def heading(n: Node, lines: int) -> str:
    """The last run of text lines among the siblings above `n` (at most `lines` of them)."""
    sibs = n.parent.children if n.parent is not None else []
    if n not in sibs:
        return ""
    got: list[str] = []
    for s in reversed(sibs[:sibs.index(n)]):
        if s.kind == "text":
            got.append(s.text)
            if len(got) >= lines:
                break
        elif got:
            break
    return " / ".join(reversed(got))


def _bu_attrs(s: str) -> dict[str, str]:
    """browser-use attributes: values are unquoted and may hold spaces ('aria-label=Main menu')."""
    marks = list(_ATTR.finditer(s))
    out = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(s)
        out[m.group(1)] = s[m.end():end].strip()
    return out


def _ax_attrs(rest: str) -> dict[str, str]:
    out = {}
    for part in rest.split(","):
        part = part.strip()
        m = _AX_PROP.fullmatch(part)
        if m:
            out[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
        elif part:
            out[part] = "true"
    return out


@lru_cache(maxsize=512)
def parse_page(observation: str) -> Page | None:
    """The page an observation holds after its marker line, as a tree; None if it holds none."""
    m = PAGE_MARK.search(observation)
    if m is None:
        return None
    base = m.end() + 1
    body = observation[base:]
    ax = bool(re.search(r"^\t*(?:RootWebArea|WebArea)\b", body, re.M))
    roots: list[Node] = []
    stack: list[Node] = []
    by_index: dict[str, Node] = {}
    pos = base
    for raw in body.split("\n"):
        start, pos = pos, pos + len(raw) + 1
        line = raw.rstrip()
        if not line.strip() or _NOISE.match(line.strip()):
            continue
        depth = len(line) - len(line.lstrip("\t"))
        node = None
        lm = (_AX_LINE if ax else _BU_LINE).match(line)
        if lm and ax:
            tag = lm.group("tag")
            name = (lm.group("name") or "").replace("\\'", "'")
            if tag == "StaticText":
                node = Node("text", depth, start, start + len(raw), text=name) if name else None
            else:
                node = Node("el", depth, start, start + len(raw), tag=tag.lower(), idx=lm.group("idx") or "",
                            attrs=_ax_attrs(lm.group("rest")), text=name)
        elif lm and not ax:
            if lm.group("tag") == "svg":
                continue
            node = Node("el", depth, start, start + len(raw), tag=lm.group("tag").lower(), idx=lm.group("idx") or "",
                        attrs=_bu_attrs(lm.group("attrs")))
        else:
            node = Node("text", depth, start, start + len(raw), text=line.strip())
        if node is None:
            continue
        while stack and stack[-1].depth >= depth:
            stack.pop()
        if stack:
            node.parent = stack[-1]
            stack[-1].children.append(node)
        else:
            roots.append(node)
        if node.kind == "el":
            stack.append(node)
            if node.idx:
                by_index[node.idx] = node
    top = Node("el", -1, base, len(observation), tag="page", children=roots)
    for r in roots:
        r.parent = top
    return Page(m.group(1).strip(), m.group(2).strip(), base, (top,), by_index)


def split_observation(observation: str) -> tuple[str, Page | None]:
    """(what the action returned, the page after it)."""
    m = PAGE_MARK.search(observation)
    if m is None:
        return observation, None
    return observation[:m.start()].rstrip("\n"), parse_page(observation)


def _el_fields(n: Node) -> list[tuple[str, str]]:
    out = [("element", n.tag)]
    for d in n.walk():
        if d.kind != "el":
            continue
        for k in _KEY_ATTRS:
            v = d.attrs.get(k)
            if v:
                out.append((k if d is n else f"{d.tag}.{k}", v[:120]))
    return out


def units(page: Page) -> list[tuple[str, Node]]:
    """(kind, node) of the page's records: units (small elements with their text or state)
    and runs of text lines outside them."""
    out: list[tuple[str, Node]] = []

    def visit(n: Node) -> None:
        text_len = sum(len(t) + 3 for t in n.texts())
        if n.tag != "page" and n.kind == "el" and text_len <= _CFG.unit_chars and (text_len or n.state() or n.idx) \
                and not is_list(n):
            out.append(("unit", n))
            return
        run: list[Node] = []
        for c in n.children:
            if c.kind == "text":
                run.append(c)
                continue
            if run:
                out.append(("text", _run(run)))
                run = []
            visit(c)
        if run:
            out.append(("text", _run(run)))

    for r in page.roots:
        visit(r)
    return out


def is_list(n: Node) -> bool:
    """Does `n` hold several rows (two or more child elements with two or more texts each)? Then
    each row is its own record: two connected accounts are not one record.

    >>> row = lambda *ts: Node("el", 1, 0, 0, tag="div", children=[Node("text", 2, 0, 0, text=t) for t in ts])
    >>> is_list(Node("el", 0, 0, 0, tag="div", children=[row("Slack", "Disconnect"), row("GitLab", "Disconnect")]))
    True
    """
    return sum(1 for c in n.children if c.kind == "el" and len(c.texts()) >= 2) >= 2


def _run(run: list[Node]) -> Node:
    return Node("text", run[0].depth, run[0].start, run[-1].end, text=" / ".join(t.text for t in run),
                parent=run[0].parent)


def page_records(step: int, observation: str) -> list:
    """The records of one observation that holds a page (see the module docstring)."""
    from .records import Record, _text_records, fields_text    # records.py calls this module
    result, page = split_observation(observation)
    out = list(_text_records(step, result)) if result.strip() else []
    if page is None:
        return out
    where = [("page", page.title), ("url", page.url)]
    out.append(Record(step, page.start, page.start, "page", "page", tuple(where), fields_text(where)))
    for kind, n in units(page):
        if kind == "unit":
            fields = [("section", heading(n, _CFG.heading_lines))] if heading(n, _CFG.heading_lines) else []
            fields += [("text", " · ".join(n.texts()))] if n.texts() else [("label", n.label())]
            fields += _el_fields(n) + where
        else:
            fields = [("text", n.text)] + where
        fields = [(k, v) for k, v in fields if v]
        path = f"[{n.idx}]" if n.idx else f"line {observation.count(chr(10), 0, n.start) + 1}"
        out.append(Record(step, n.start, n.end, path, "element" if kind == "unit" else "text", tuple(fields),
                          fields_text(fields)))
    return out


# ------------------------------------------------------------------------------------ actions

def row_of(n: Node) -> Node:
    """The row an element sits in: its smallest ancestor (or itself) that has text, unless
    that ancestor is a whole list or page section (more than `unit_chars` of text)."""
    cur = n
    while not cur.texts() and cur.parent is not None and cur.parent.tag != "page":
        if sum(len(t) + 3 for t in cur.parent.texts()) > _CFG.unit_chars:
            break
        cur = cur.parent
    return cur


def _in_nav(n: Node) -> bool:
    """A link, a tab, or anything inside a navigation bar: clicking it opens, never writes."""
    cur: Node | None = n
    while cur is not None:
        if cur.tag in ("nav", "a", "link", "tab", "navigation", "menubar") or cur.attrs.get("role") in ("tab", "link", "navigation"):
            return True
        cur = cur.parent
    return False


def _has_submit(page: Page) -> bool:
    """Does the page hold a form's submit button (Save, Apply, OK ...)? Then a toggle on it
    is a pending choice until the form is submitted."""
    save = words()["verbs"]["save"] | words()["verbs"]["create"]
    for m in page.nodes():
        if m.kind == "el" and m.tag in ("button", "input") and m.attrs.get("type") not in ("checkbox", "radio"):
            label = " ".join(m.texts()) or m.attrs.get("aria-label", "") or m.attrs.get("value", "")
            if label and len(label) <= 30 and set(re.findall(r"[a-z]+", label.lower())) & save:
                return True
    return False


def write_verb(n: Node, action: str) -> str | None:
    """The verb of the write a click on `n` makes, or None for a read (a link, a tab, a menu).

    >>> write_verb(Node("el", 0, 0, 0, tag="button", attrs={"title": "Delete"}), "click")
    'delete'
    >>> write_verb(Node("el", 0, 0, 0, tag="a", text="Settings"), "click") is None
    True
    """
    w = words()
    if _in_nav(n):
        return None
    kinds = {n.tag, n.attrs.get("type", ""), n.attrs.get("role", "")} | {d.tag for d in n.walk()} \
        | {d.attrs.get("type", "") for d in n.walk()} | {d.attrs.get("role", "") for d in n.walk()}
    if action in w["actions"]["selects"] or kinds & w["controls"]["selects"] and action != "click":
        return "set"
    said = " ".join([n.label()] + [n.attrs.get(k, "") for k in ("aria-label", "title", "data-action", "id", "data-testid")])
    tokens = set(re.findall(r"[a-z]+", re.sub(r"(?<=[a-z])(?=[A-Z])", " ", said).lower()))
    for verb, ws in w["verbs"].items():
        if tokens & ws:
            return verb
    if kinds & w["controls"]["toggles"]:
        return "set"
    return None


def _effect(before: Page | None, after: Page | None, n: Node | None, verb: str, typed: list[str],
            selected: list[str] = ()) -> str:
    """What the page after a write shows of it ('' when nothing does)."""
    if after is None:
        return ""
    new_lines = after.lines() - (before.lines() if before is not None else set())
    if n is not None:
        key, state = n.key(), n.state()
        again = [m for m in after.nodes() if m.kind == "el" and m.key() == key]
        for m in again:
            if state and m.state() != state:
                now = ", ".join(f"{k}={v}" for k, v in m.state())
                return f"{m.label()[:80]} now {now}"[:_CFG.effect_chars]
        if verb in ("delete", "remove", "move") and before is not None and after.url == before.url:
            # the row acted on (or the rows selected for it) gone; the button itself vanishing is not it
            row = row_of(n)
            mine = [t for r in (selected or ([" · ".join(row.texts())] if row is not n else [])) for t in r.split(" · ")
                    if len(t) > 8 and t in before.lines()]
            if mine and not any(t in after.lines() for t in mine):
                return f"no longer listed: {' · '.join(mine)[:200]}"
    for t in typed:
        # subtle: sorted, so the line picked does not change with set order between runs
        shown = sorted((ln for ln in new_lines if t and t.lower() in ln.lower()), key=lambda ln: (len(ln), ln))
        if shown:
            return f"shows {shown[0][:_CFG.effect_chars]}"
    confirm = words()["effects"]["confirm"]
    for ln in sorted(new_lines):
        if set(re.findall(r"[a-z]+", ln.lower())) & confirm and len(ln) <= _CFG.effect_chars:
            return f"says {ln}"
    return ""


def _pages(traj) -> list[tuple[int, Page]]:
    out = []
    for i, s in enumerate(traj.steps):
        p = parse_page(s.observation) if s.is_evidence else None
        if p is not None:
            out.append((i, p))
    return out


def _is_toggle(n: Node) -> bool:
    """A checkbox, radio or switch, or a label wrapping one."""
    kinds = {k for d in n.walk() if d.kind == "el" for k in (d.tag, d.attrs.get("type", ""), d.attrs.get("role", ""))}
    return bool(kinds & words()["controls"]["toggles"])


def web_actions(traj, actions: list) -> list:
    """The run's actions with web writes and reads classified from the pages (module docstring).

    Typing, and a toggle on a page with a submit button, are pending until the next write
    (their values join its arguments); a checkbox that selects a list row is a read, and the
    row it selected joins the next write (the toolbar's Delete acts on it).
    """
    w = words()
    pages = _pages(traj)
    pending: list[str] = []
    selected: list[str] = []
    out = []
    for a in actions:
        step = traj.steps[a.step]
        before = next((p for i, p in reversed(pages) if i < a.step), None)
        after = next((p for i, p in pages if i >= a.step), None)
        idx = str(a.args.get("index", a.args.get("bid", a.args.get("element_index", ""))))
        n = before.by_index.get(idx) if before is not None and idx else None
        name = a.name
        read = dataclasses.replace(a, kind="read", verb=name, target="", page=True)
        if name in w["actions"]["reads"] or name in ("done", "finish"):
            out.append(read)
            continue
        result, _ = split_observation(step.observation)
        failed = a.status == "failed" or bool(re.match(r"(?i)\s*(?:error|failed)\b", result))
        row = row_of(n) if n is not None else None
        if name in w["actions"]["types"]:
            verb = "set"
        elif name in w["actions"]["keys"]:
            keys = str(a.args.get("keys", a.args.get("key", a.args.get("key_comb", ""))))
            verb = "submit" if "enter" in keys.lower() and pending else None
        elif n is not None and _is_toggle(n) and not " ".join(n.texts()) and row is not n and len(row.texts()) >= 3:
            selected = [" · ".join(row.texts())[:_CFG.effect_chars]]      # a row's selection box
            out.append(read)
            continue
        else:
            verb = write_verb(n, name) if n is not None else ("set" if name in w["actions"]["selects"] else None)
        if verb is None:
            out.append(read)
            continue
        typed = name in w["actions"]["types"] or name in w["actions"]["selects"]
        if (typed or (n is not None and _is_toggle(n))) and before is not None and _has_submit(before):
            # a field or a choice of a form: pending until the form is submitted
            if not failed:
                value = str(a.args.get("text", a.args.get("value", a.args.get("options", ""))))
                radio = n is not None and any(d.attrs.get("type") == "radio" for d in n.walk())
                if n is not None and not typed:
                    # a radio is one value of its group (the heading above); a checkbox is its own label
                    value = f"{heading(row_of(n), 1) or heading(n, 1)}: {n.label()[:80]}".lstrip(": ") if radio \
                        else n.label()[:80]
                entry = f"{n.label()[:60]}: {value}" if typed and n is not None else value
                field_name = entry.rpartition(": ")[0]
                # a field set twice holds its last value ("Apply label: Promotions", then Newsletters)
                one_value = typed or radio
                pending = [p for p in pending if not (one_value and field_name and p.rpartition(": ")[0] == field_name)] + [entry]
            out.append(read)
            continue
        args = {"action": name, **{k: v for k, v in a.args.items() if k not in ("index", "bid", "element")}}
        if n is not None:
            # a toggle's section names its setting; a button's is whatever text stands above it
            section = heading(row, _CFG.heading_lines) or heading(n, _CFG.heading_lines) if _is_toggle(n) else ""
            args.update(element=n.label()[:120], section=section,
                        row=" · ".join(row.texts())[:_CFG.effect_chars] if row is not n else "",
                        page=before.title if before else "", url=before.url if before else "")
        if not typed and not (n is not None and _is_toggle(n)):
            args.update(chosen=list(pending), selected=list(selected))
        effect = "" if failed else _effect(before, after, n, verb, [p.rsplit(": ", 1)[-1] for p in pending] if not typed else [],
                                           selected)
        if typed and not failed and after is not None and n is not None:
            value = str(a.args.get("text", a.args.get("value", "")))
            if any(m.attrs.get("value") == value for m in after.nodes() if m.kind == "el" and m.key() == n.key()):
                effect = f"{n.label()[:80]} now value={value}"
        if effect:
            args["effect"] = effect
        args = {k: v for k, v in args.items() if v not in ("", [], None)}
        status = "failed" if failed else ("succeeded" if effect else "unknown")
        if verb == "set" and n is not None and _is_toggle(n) and re.search(r"checked=(true|false)", effect):
            # a switch or box: the state the page shows says which way it went
            verb = "enable" if re.search(r"checked=true", effect) else "disable"
        target = f"{name}:{n.key()}" if n is not None else f"{name}@{a.step}"
        out.append(dataclasses.replace(a, args=args, status=status, kind="write", verb=verb, target=target, page=True))
        if status == "succeeded":
            pending, selected = [], []            # what was chosen went into this write
    return out


def is_web_run(traj) -> bool:
    return bool(traj.metadata.get("pages"))
