"""Edit values of manifest documents in place, leaving every other byte of the file as it was.

``drift --accept`` writes live values back into the manifests. A YAML round trip (ruamel.yaml
included, measured on this repository's examples) re-indents sequences and re-wraps flow
mappings, i.e. rewrites lines nobody changed; so this module *splices* instead: it parses the
file with the same parser as the manifest loader (:func:`.yamlsource.compose_documents`, whose
nodes carry source offsets), finds the node of each field, and replaces exactly that node's text.
Comments, key order, quoting, indentation and line ends of everything else are kept.

- A scalar is replaced by a scalar, in the quoting style it had when that still reads back as
  the new value (else double-quoted); a flow collection (``[a, b]``, ``{k: v}``) by a flow
  collection; a block collection by a block at the same indentation.
- A path is ``spec`` plus a field path (:func:`reconciler.model.parse_field_path`):
  ``total_budget``, ``settings.retention_days``, ``members[1752].purposes`` (the item of a keyed
  list whose key field, ``list_keys``, holds ``1752``). A member added or removed out of band has
  no node of its own: the whole top-level field is replaced by ``whole`` then.
- Refused (:class:`EditRefused`, saying why): a value written with ``${...}`` (an expression or
  a variable: the text is not the value), a reference (``{ref: ...}``), a value shared through a
  YAML anchor/alias or merge key (``<<``), a field the document does not write, a symbolic link.
- Strings are written escaped for interpolation (``${`` as ``$${``), like ``export`` does: a live
  value that reads ``${env:SECRET}`` must load back as that text.
- Every edited file is parsed again and each edited value read back before anything is written;
  files are replaced atomically (:func:`reconciler.fsutil.atomic_write`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import ReconcilerError
from reconciler.manifest.interpolate import TOKEN_RE, escape
from reconciler.manifest.yamlsource import STR, compose_documents, load_documents
from reconciler.model import PathPart, parse_field_path


class EditRefused(ReconcilerError):
    """This value cannot be written back here; the message says why."""


@dataclass(frozen=True)
class FieldEdit:
    """Set ``spec.<path>`` of the document starting at ``line`` to ``value``; ``whole`` is the
    new value of the path's top-level field, used when the path has no node of its own."""

    line: int
    path: str
    value: Any
    whole: Any
    list_keys: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Splice:
    start: int
    end: int
    text: str
    edit: FieldEdit
    whole: bool  # the top-level field was replaced (the path had no node of its own)


def edit_text(text: str, display: str, edits: Sequence[FieldEdit]) -> tuple[str, dict[int, str]]:
    """``text`` with ``edits`` made; and the refused ones by index, with the reason. Raises
    :class:`EditRefused` when the result does not read back as intended (nothing is changed)."""
    documents = compose_documents(text, display)
    starts = [(node.start_mark.line + 1, node) for node in documents if node is not None]
    newline = "\r\n" if "\r\n" in text else "\n"
    splices: list[_Splice] = []
    refused: dict[int, str] = {}
    for index, edit in enumerate(edits):
        try:
            document = _document(starts, edit.line)
            splices.append(_splice(text, document, edit, newline))
        except EditRefused as exc:
            refused[index] = str(exc)
    chosen = _without_overlaps(splices)
    out = text
    for splice in sorted(chosen, key=lambda s: s.start, reverse=True):
        out = out[: splice.start] + splice.text + out[splice.end :]
    _check(out, display, [
        (_document_index(documents, s.edit.line), parse_field_path(s.edit.path)[:1] if s.whole else
         parse_field_path(s.edit.path), s.edit.whole if s.whole else s.edit.value, s.edit.list_keys)
        for s in chosen
    ])
    return out, refused


def written_text(text: str, display: str, line: int, path: str) -> str | None:
    """The text the document starting at ``line`` writes for ``spec.<path>`` (a plain ``a.b``
    path to a scalar), as written (``${each.value.budget}``); None where it writes none."""
    documents = compose_documents(text, display)
    try:
        node: Node | None = _document([(n.start_mark.line + 1, n) for n in documents if n is not None], line)
    except EditRefused:
        return None
    for part in (PathPart("spec"), *parse_field_path(path)):
        node = _child(node, part, None) if node is not None else None
    return node.value if isinstance(node, ScalarNode) else None


# -- finding the node ---------------------------------------------------------------------------
def _document(starts: Sequence[tuple[int, Node]], line: int) -> Node:
    found = [node for start, node in starts if start <= line]
    if not found:
        raise EditRefused(f"no YAML document at line {line}")
    return found[-1]


def _document_index(documents: Sequence[Node | None], line: int) -> int:
    index = -1
    for i, node in enumerate(documents):
        if node is not None and node.start_mark.line + 1 <= line:
            index = i
    return index


def _child(node: Node, part: PathPart, list_key: str | None) -> Node | None:
    if isinstance(node, MappingNode):
        if part.member:
            return None
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.tag == "tag:yaml.org,2002:merge":
                continue
            if isinstance(key, ScalarNode) and key.value == part.key:
                found: Node = value
                return found
    if isinstance(node, SequenceNode):
        if part.member:
            if not list_key:
                return None
            for item in node.value:
                ident = _child(item, PathPart(list_key), None)
                if isinstance(ident, ScalarNode) and ident.value == part.key:
                    member: Node = item
                    return member
            return None
        if part.key.isdigit() and int(part.key) < len(node.value):
            positioned: Node = node.value[int(part.key)]
            return positioned
    return None


def _merges(node: Node) -> bool:
    return isinstance(node, MappingNode) and any(
        isinstance(k, ScalarNode) and k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value
    )


def _splice(text: str, document: Node, edit: FieldEdit, newline: str) -> _Splice:
    parts = parse_field_path(edit.path)
    spec = _child(document, PathPart("spec"), None)
    if spec is None or not parts:
        raise EditRefused("the document has no spec")
    top = parts[0].key
    chain = [spec]
    node: Node | None = spec
    for depth, part in enumerate(parts):
        node = _child(chain[-1], part, edit.list_keys.get(top) if depth == 1 else None)
        if node is None:
            break
        chain.append(node)
    value, whole = edit.value, False
    removal = edit.value is None and any(p.member or p.key.isdigit() for p in parts[1:])
    if node is None or removal:
        if len(chain) < 2:
            if _merges(spec):
                raise EditRefused(f"spec.{top} comes from a YAML merge key (<<), not from this document itself")
            raise EditRefused(f"spec.{top} is not written in this document")
        node, value, whole = chain[1], edit.whole, True
    for ancestor in chain[:-1] if not whole else chain[:1]:
        if _merges(ancestor):
            raise EditRefused("it sits in a mapping built with a YAML merge key (<<); edit it by hand")
    _refuse_unwritable(text, document, node, top if whole else edit.path)
    start, end = node.start_mark.index, _end(node)
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):  # keep the line break after it
        end = start + len(text[start:end].rstrip("\r\n"))
    rendered = _render(value, node, newline)
    return _Splice(start, end, rendered, edit, whole)


def _refuse_unwritable(text: str, document: Node, node: Node, path: str) -> None:
    if text[node.start_mark.index : node.start_mark.index + 1] in ("&", "*") or _shared(document, node):
        raise EditRefused(f"spec.{path} is shared through a YAML anchor (&) and alias (*); edit it by hand")
    for leaf in _leaves(node):
        if leaf.tag == STR and any(m.group(0) != "$${" for m in TOKEN_RE.finditer(leaf.value)):
            raise EditRefused(f"written as an expression or variable ({leaf.value!r}) in spec.{path}; change "
                              "what it is computed from by hand")
    if isinstance(node, MappingNode) and any(isinstance(k, ScalarNode) and k.value == "ref" for k, _ in node.value):
        raise EditRefused(f"spec.{path} holds a reference ({{ref: ...}}): the live value is an id; "
                          "point the reference at the right document by hand")


def _shared(document: Node, target: Node) -> bool:
    """Whether ``target`` appears more than once in the tree (an alias of an anchored node)."""
    seen = 0
    stack = [document]
    visited: set[int] = set()
    while stack:
        node = stack.pop()
        if node is target:
            seen += 1
            if seen > 1:
                return True
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, MappingNode):
            for k, v in node.value:
                stack.extend((k, v))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return False


def _leaves(node: Node) -> list[ScalarNode]:
    if isinstance(node, ScalarNode):
        return [node]
    out: list[ScalarNode] = []
    if isinstance(node, MappingNode):
        for k, v in node.value:
            out += _leaves(k) + _leaves(v)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            out += _leaves(item)
    return out


def _end(node: Node) -> int:
    """Where the node's own text ends: a block collection's end mark lies past the comments and
    blank lines that follow it, so its end is that of its last value."""
    if isinstance(node, ScalarNode) or getattr(node, "flow_style", False):
        return int(node.end_mark.index)
    if isinstance(node, MappingNode) and node.value:
        return _end(node.value[-1][1])
    if isinstance(node, SequenceNode) and node.value:
        return _end(node.value[-1])
    return int(node.end_mark.index)


def _without_overlaps(splices: Sequence[_Splice]) -> list[_Splice]:
    """A whole-field replacement wins over the edits inside it; otherwise edits never overlap."""
    chosen: list[_Splice] = []
    for splice in sorted(splices, key=lambda s: (s.start, -(s.end - s.start))):
        if chosen and splice.start < chosen[-1].end:
            continue
        chosen.append(splice)
    return chosen


# -- rendering ----------------------------------------------------------------------------------
def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, Mapping):
        return {str(k): _escaped(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escaped(v) for v in value]
    return value


def _render(value: Any, original: Node, newline: str) -> str:
    value = _escaped(value)
    block = isinstance(original, (MappingNode, SequenceNode)) and not original.flow_style
    indent = " " * original.start_mark.column
    if block and isinstance(original, SequenceNode) and isinstance(value, list) and value and all(
        isinstance(item, ScalarNode) or item.flow_style for item in original.value
    ):  # a block list of one-line items (``- {organisation_id: "1752", ...}``) stays one
        return (newline + indent).join(f"- {_inline(item)}" for item in value)
    if block and isinstance(value, (Mapping, list)) and value:
        text = yaml.safe_dump(value, default_flow_style=False, sort_keys=False, allow_unicode=True, width=10**9)
        lines = text.rstrip("\n").split("\n")
        return newline.join([lines[0], *(indent + line for line in lines[1:])])
    style = original.style if isinstance(original, ScalarNode) else None
    return _inline(value, style)


def _inline(value: Any, style: str | None = None) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_string(str(k), None)}: {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, str):
        return _string(value, style)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EditRefused(f"{value} cannot be written in a manifest")
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, int):
        return str(value)
    raise EditRefused(f"cannot write a {type(value).__name__} value")


_PLAIN_UNSAFE = re.compile(r"^[\s\-?:,\[\]{}#&*!|>'\"%@`]|[:#]\s|\s#|:$|[\[\]{},]|^\s|\s$|[\x00-\x1f]")


def _string(text: str, style: str | None) -> str:
    """A string scalar: in ``style`` (``'``, ``"`` or plain) when that reads back as ``text``."""
    if style == "'" and not re.search(r"[\x00-\x1f]", text):
        return "'" + text.replace("'", "''") + "'"
    if not style and text and not _PLAIN_UNSAFE.search(text) and _reads_as(text, text):
        return text
    return json.dumps(text, ensure_ascii=False)


def _reads_as(snippet: str, wanted: Any) -> bool:
    try:
        [doc] = load_documents(f"v: {snippet}\n", "(value)")
    except Exception:
        return False
    return doc is not None and doc.value.get("v") == wanted and type(doc.value.get("v")) is type(wanted)


# -- checking -----------------------------------------------------------------------------------
def _check(text: str, display: str, expected: Sequence[tuple[int, tuple[PathPart, ...], Any, Mapping[str, str]]]) -> None:
    """The edited file reads back with each value as meant (else nothing is written)."""
    try:
        documents = load_documents(text, display)
    except ReconcilerError as exc:
        raise EditRefused(f"{display}: the edit would not be valid YAML ({exc}); nothing was changed") from None
    for index, parts, value, list_keys in expected:
        doc = documents[index] if 0 <= index < len(documents) else None
        spec = doc.value.get("spec") if doc is not None and isinstance(doc.value, dict) else None
        got = _at(spec, parts, list_keys)
        if not _same(got, _escaped(value)):
            path = ".".join(p.key if not p.member else f"[{p.key}]" for p in parts).replace(".[", "[")
            raise EditRefused(f"{display}: spec.{path} would read back as {got!r}, not {value!r}; "
                              "nothing was changed")


_MISSING = object()


def _at(value: Any, parts: Sequence[PathPart], list_keys: Mapping[str, str]) -> Any:
    top = parts[0].key if parts else ""
    for depth, part in enumerate(parts):
        if isinstance(value, Mapping) and not part.member:
            value = value.get(part.key)
        elif isinstance(value, list) and part.member:
            key = list_keys.get(top, "")
            value = next((item for item in value if isinstance(item, Mapping) and str(item.get(key)) == part.key), None)
        elif isinstance(value, list) and part.key.isdigit():
            value = value[int(part.key)] if int(part.key) < len(value) else None
        else:
            return None if depth else _MISSING
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)
