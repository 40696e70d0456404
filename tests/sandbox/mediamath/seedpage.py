"""The MediaMath API's own page (``tests/vendor/mediamath-api-v2.0.page.txt``) as test material.

- :func:`examples`: every ``GET``/``POST https://api.mediamath.com/api/v2.0/...`` example with its
  form body and XML answer, cleaned so it parses: ``[ . . . ]`` / ``[ additional ... ]`` lines become
  a marker meaning "the element has more children here" (always its last child), bare ``&`` (the
  page prints ``Food & Beverages`` unescaped) is escaped, a missing ``</result>`` is added.
  One erratum of the page is repaired (:data:`ERRATA`): the first strategy of the
  ``full=strategy,campaign`` example never closes its nested campaign (the second one does).
- :func:`harvest`: the entities the examples show (type, id, name, version, props, and links implied
  by nesting: ``<entity rel="agency">`` inside an advertiser means ``advertiser.agency_id``).
- :func:`compare`: element/attribute structure of a documented answer against the sandbox's:
  same tags, same attribute names, same values unless ignored, same children (a prefix where the
  page elided the rest; matched by id where the page's order is not reproducible).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from defusedxml import ElementTree as SafeET

from tests.vendor import MEDIAMATH_PAGE, vendor_file

MORE = "_more_"
_EXAMPLE = re.compile(r"^(GET|POST) https://api\.mediamath\.com(/api/v2\.0/\S*)$")
_PLACEHOLDER = re.compile(r"^\s*\[[^\]]*\]\s*$")
_BARE_AMP = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#\d+);)")
ERRATA = [
    (
        "[ additional campaign properties ]\n<prop name=\"campaign_id\"",
        "[ additional campaign properties ]\n</entity>\n<prop name=\"campaign_id\"",
    ),
]
COLLECTIONS = {
    "organization": "organizations", "agency": "agencies", "advertiser": "advertisers", "campaign": "campaigns",
    "strategy": "strategies", "vertical": "verticals", "ad_server": "ad_servers", "user": "users",
}


@dataclass(frozen=True)
class Example:
    method: str
    path: str  # below https://api.mediamath.com
    body: str | None
    xml: str

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def tree(self) -> Any:
        return SafeET.fromstring(self.xml)


def seed_text() -> str:
    return vendor_file(MEDIAMATH_PAGE).read_text(encoding="utf-8")


def examples(text: str) -> dict[str, Example]:
    for wrong, right in ERRATA:
        text = text.replace(wrong, right)
    lines = text.splitlines()
    found: dict[str, Example] = {}
    i = 0
    while i < len(lines):
        m = _EXAMPLE.match(lines[i].strip())
        i += 1
        if not m:
            continue
        method, path = m.groups()
        body = None
        if method == "POST" and i < len(lines) and not lines[i].startswith("<"):
            body = lines[i].strip()
            i += 1
        xml_lines: list[str] = []
        while i < len(lines) and (lines[i].startswith("<") or _PLACEHOLDER.match(lines[i])):
            line = lines[i]
            i += 1
            if line.startswith("<?xml"):
                continue
            xml_lines.append(f"<{MORE}/>" if _PLACEHOLDER.match(line) else line)
            if line.startswith("</result>"):
                break
        if not xml_lines:
            continue
        xml = _BARE_AMP.sub("&amp;", "\n".join(xml_lines))
        if "</result>" not in xml:
            xml += "\n</result>"
        example = Example(method, path, body, xml)
        found[example.key] = example
    return found


def harvest(trees: Iterable[Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """collection -> id -> fields, from every <entity> of the given answers."""
    data: dict[str, dict[int, dict[str, Any]]] = {}

    def visit(el: Any, parent: tuple[str, dict[str, Any]] | None) -> None:
        etype = el.get("type")
        coll = COLLECTIONS.get(etype or "")
        if coll is None:
            return
        doc = data.setdefault(coll, {}).setdefault(int(el.get("id")), {"id": int(el.get("id"))})
        doc["name"] = el.get("name")
        if el.get("version") is not None:
            doc["version"] = int(el.get("version"))
        for child in el:
            if child.tag == "prop":
                doc[child.get("name")] = child.get("value")
            elif child.tag == "entity":
                visit(child, (etype, doc))
        if parent is not None:
            parent_type, parent_doc = parent
            rel = el.get("rel")
            if rel == etype:  # a single relation of the parent
                parent_doc.setdefault(f"{etype}_id", str(int(el.get("id"))))
            else:  # a plural relation: the child points at the parent
                doc.setdefault(f"{parent_type}_id", str(parent_doc["id"]))

    for tree in trees:
        for top in list(tree.findall("entity")) + list(tree.findall("entities/entity")):
            visit(top, None)
    return data


Ignore = Callable[[Any, str], bool]


def compare(seed: Any, ours: Any, ignore: Ignore, unordered: frozenset[str] = frozenset(), path: str = "") -> list[str]:
    """Differences between a documented element and ours (empty when they match)."""
    here = f"{path}/{seed.tag}" + (f"[{seed.get('name') or seed.get('id') or ''}]" if seed.get("name") or seed.get("id") else "")
    problems: list[str] = []
    if seed.tag != ours.tag:
        return [f"{here}: tag {ours.tag!r} instead of {seed.tag!r}"]
    if set(seed.attrib) != set(ours.attrib):
        problems.append(f"{here}: attributes {sorted(ours.attrib)} instead of {sorted(seed.attrib)}")
    for name, value in seed.attrib.items():
        if name not in ours.attrib or ignore(seed, name):
            continue
        mine = ours.get(name)
        same = int(mine) == int(value) if name == "id" and mine.isdigit() and value.isdigit() else mine == value
        if not same:
            problems.append(f"{here}: {name}={mine!r} instead of {value!r}")
    seed_children = [c for c in seed if c.tag != MORE]
    open_ended = len(seed_children) != len(list(seed))
    if open_ended:
        assert list(seed)[-1].tag == MORE, f"{here}: elision in the middle of the element"
    our_children = list(ours)
    if seed.tag in unordered:
        by_id = {c.get("id") and int(c.get("id")): c for c in our_children}
        if len(our_children) != len(seed_children):
            problems.append(f"{here}: {len(our_children)} children instead of {len(seed_children)}")
        for child in seed_children:
            match = by_id.get(int(child.get("id")))
            if match is None:
                problems.append(f"{here}: no child with id {child.get('id')}")
            else:
                problems.extend(compare(child, match, ignore, unordered, here))
        return problems
    if open_ended and len(our_children) < len(seed_children):
        problems.append(f"{here}: {len(our_children)} children, expected at least {len(seed_children)}")
    if not open_ended and len(our_children) != len(seed_children):
        problems.append(
            f"{here}: children {[c.tag + ':' + str(c.get('name')) for c in our_children]} instead of "
            f"{[c.tag + ':' + str(c.get('name')) for c in seed_children]}"
        )
    for mine, theirs in zip(our_children, seed_children, strict=False):
        problems.extend(compare(theirs, mine, ignore, unordered, here))
    return problems
