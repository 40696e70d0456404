"""Parse MediaMath Execution & Management API v2.0 answers (XML, or JSON on
``Accept: application/vnd.mediamath.v1+json``) into plain values; no HTTP, no normalisation.

Shapes (``reference/mediamath-api.md`` §2): a ``<result>`` root holding one ``<entity>``, or
``<entities count start>`` (``count`` is the total number of matches), or ``<log_entries>``
(history), plus ``<status code="...">message</status>``, optional ``<error>`` and
``<errors><field-error name error/></errors>``. An entity carries ``name id type version``
attributes, nested related ``<entity rel=...>`` elements, then ``<prop name value>`` elements;
a datetime prop may hold ``<local_time value zone_name>``, a money prop ``currency_code`` and
``<amount currency_code value>`` children.

JSON: ``{"data": {...} | [...], "meta": {"status", "count", "total_count", "offset"}}``; money
is a list of ``{currency_code, value}``; booleans are true/false; related entities are nested
objects with ``entity_type``. Both are turned into the same :class:`WireEntity` whose prop values
are the wire's strings (JSON values are stringified the way the XML would carry them).

XML from the network is parsed with ``defusedxml`` only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

JSON_MEDIA_TYPE = "application/vnd.mediamath.v1+json"


class WireFormatError(ValueError):
    """A body that is not a MediaMath answer (wrong content type, broken XML/JSON)."""


@dataclass(frozen=True)
class Prop:
    """One property as sent: ``value`` is the wire string (None when absent/null)."""

    value: str | None
    zone_name: str | None = None  # ``<local_time zone_name>`` of a datetime
    local_value: str | None = None  # ``<local_time value>``
    currency_code: str | None = None
    amounts: tuple[tuple[str, str], ...] = ()  # (currency_code, value) of a money prop


@dataclass(frozen=True)
class WireEntity:
    type: str
    id: str
    name: str | None = None
    version: int | None = None
    rel: str | None = None
    props: Mapping[str, Prop] = field(default_factory=dict)
    related: tuple[WireEntity, ...] = ()

    def value(self, name: str) -> str | None:
        prop = self.props.get(name)
        return prop.value if prop is not None else None


@dataclass(frozen=True)
class FieldChange:
    name: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class WireHistoryEntry:
    action: str
    date: str
    user_id: str | None
    user_name: str | None
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class Status:
    code: str
    message: str = ""
    field_errors: tuple[tuple[str, str], ...] = ()  # (field name, error)

    @property
    def ok(self) -> bool:
        return self.code == "ok"

    def describe(self) -> str:
        """The vendor's words: message, then ``field: error`` for each field error."""
        parts = [self.message] if self.message else []
        parts.extend(f"{name}: {error}" if name else error for name, error in self.field_errors)
        return "; ".join(parts) if parts else self.code


@dataclass(frozen=True)
class WireResult:
    status: Status
    entity: WireEntity | None = None
    entities: tuple[WireEntity, ...] = ()
    count: int | None = None  # total matches of a collection query
    start: int | None = None
    history: tuple[WireHistoryEntry, ...] = ()
    session: Mapping[str, str] | None = None
    targets: TargetLists | None = None  # a strategy's target dimension (``/target_dimensions/{n}``)


@dataclass(frozen=True)
class TargetLists:
    """A target dimension answer: the ``target_value`` entities included and excluded."""

    include: tuple[WireEntity, ...] = ()
    exclude: tuple[WireEntity, ...] = ()


# -- dispatch --------------------------------------------------------------------------------------
def parse(body: bytes | str, content_type: str) -> WireResult:
    """Parse a response body by its Content-Type (``xml`` or ``json``)."""
    ctype = (content_type or "").lower()
    if "json" in ctype:
        return parse_json(body)
    if "xml" in ctype:
        return parse_xml(body)
    raise WireFormatError(f"unexpected content type {content_type or '(none)'!r}")


# -- XML -------------------------------------------------------------------------------------------
def parse_xml(body: bytes | str) -> WireResult:
    try:
        root = _read_xml(body)
    except (SafeET.ParseError, DefusedXmlException) as exc:
        raise WireFormatError(f"unreadable XML ({exc})") from exc
    if root.tag != "result":
        raise WireFormatError(f"XML root is <{_shown_tag(root.tag)}>, expected <result>")
    status = _xml_status(root)
    entity = root.find_entity()
    entities_el = root.find("entities")
    log_el = root.find("log_entries")
    session_el = root.find("session")
    result = WireResult(status=status)
    if entities_el is not None:
        result = WireResult(
            status=status,
            entities=tuple(entities_el.entities),
            count=_int_or_none(entities_el.get("count")),
            start=_int_or_none(entities_el.get("start")),
        )
    elif log_el is not None:
        result = WireResult(
            status=status,
            history=tuple(_xml_history(e) for e in log_el.findall("entry")),
            count=_int_or_none(log_el.get("count")),
            start=_int_or_none(log_el.get("start")),
        )
    elif entity is not None:
        result = WireResult(status=status, entity=entity, count=1)
    elif any(root.find(tag) is not None for tag in ("include", "exclude", "enabled")):
        result = WireResult(status=status, targets=TargetLists(_xml_targets(root, "include"), _xml_targets(root, "exclude")))
    if session_el is not None:
        result = WireResult(
            status=result.status,
            entity=result.entity,
            entities=result.entities,
            count=result.count,
            start=result.start,
            history=result.history,
            session=dict(sorted(session_el.attrib.items())),
        )
    return result


def _shown_tag(tag: str) -> str:
    """A tag as ElementTree names it: ``{uri}local`` (expat reports ``uri}local``)."""
    return "{" + tag if "}" in tag and not tag.startswith("{") else tag


class _Node:
    """An element outside entities (``result``, ``status``, ``entities``, ``log_entries``...):
    its attributes, child elements, text before the first child, and the entities directly in it
    (already turned into :class:`WireEntity` values)."""

    __slots__ = ("tag", "attrib", "children", "text", "entities")

    def __init__(self, tag: str, attrib: dict[str, str]) -> None:
        self.tag = tag
        self.attrib = attrib
        self.children: list[_Node] = []
        self.text = ""
        self.entities: list[WireEntity] = []

    def get(self, name: str) -> str | None:
        return self.attrib.get(name)

    def find(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> list[_Node]:
        return [c for c in self.children if c.tag == tag]

    def find_entity(self) -> WireEntity | None:
        return self.entities[0] if self.entities else None

    def iter(self, tag: str) -> Iterator[_Node]:
        """This element and its descendants named ``tag``, in document order (entities excluded).
        Iterative: a hostile answer may nest elements far deeper than Python's recursion limit."""
        pending: list[_Node] = [self]
        while pending:
            node = pending.pop()
            if node.tag == tag:
                yield node
            pending.extend(reversed(node.children))


class _EntityFrame:
    """An ``<entity>`` being read: its attributes, props so far, related entities so far."""

    __slots__ = ("attrib", "props", "related")

    def __init__(self, attrib: dict[str, str]) -> None:
        self.attrib = attrib
        self.props: dict[str, Prop] = {}
        self.related: list[WireEntity] = []

    def entity(self) -> WireEntity:
        attrib = self.attrib
        return WireEntity(
            type=attrib.get("type") or "",
            id=attrib.get("id") or "",
            name=attrib.get("name"),
            version=_int_or_none(attrib.get("version")),
            rel=attrib.get("rel"),
            props=self.props,
            related=tuple(self.related),
        )


_IGNORED = object()  # an element whose content nobody reads (inside a prop, or an entity's non-prop child)
_LOCAL = " local_time"  # keys added to a prop's attribute dict for its children (never XML names)
_AMOUNTS = " amounts"


def _prop_with_children(attrib: dict[str, Any]) -> Prop:
    """A ``<prop>`` that had children: its first ``<local_time>`` and its ``<amount>`` values."""
    local = attrib.get(_LOCAL)
    return _full_prop(
        attrib.get("value"),
        local.get("zone_name") if local is not None else None,
        local.get("value") if local is not None else None,
        attrib.get("currency_code"),
        tuple(attrib[_AMOUNTS]),
    )


@lru_cache(maxsize=8192)
def _full_prop(
    value: str | None,
    zone_name: str | None,
    local_value: str | None,
    currency_code: str | None,
    amounts: tuple[tuple[str, str], ...],
) -> Prop:
    """Props with children are shared too (dates and amounts repeat across entities)."""
    return Prop(value, zone_name, local_value, currency_code, amounts)


class _XmlReader:
    """One pass over a MediaMath XML answer, building entities as their elements are read.

    The parser is ``defusedxml``'s (DTD entities and external references refused); its expat
    handlers are this reader's methods, so an answer of 100 strategies costs one Python call per
    element boundary instead of an ElementTree built and then walked. A prop is stored as soon as
    it starts (as the shared leaf :class:`Prop`) and rebuilt at its end only if it had children.
    Character data is only collected outside entities (where ``<status>`` and errors hold text);
    inside entities it goes to a C no-op.

    The stack holds, per open element: a :class:`_Node` (outside entities), an
    :class:`_EntityFrame`, a prop's attribute dict, or ``_IGNORED``.
    """

    def __init__(self) -> None:
        self.parser = SafeET.XMLParser(target=self)  # no start/end/data here: handlers set below
        expat = self.parser.parser
        expat.ordered_attributes = False  # attributes as a dict
        expat.StartElementHandler = self._start
        expat.EndElementHandler = self._end
        expat.CharacterDataHandler = self._data
        self._expat = expat
        self._document = _Node("", {})
        self._stack: list[Any] = [self._document]

    def read(self, body: bytes | str) -> _Node:
        self.parser.feed(body)
        root: _Node = self.parser.close()
        return root

    def close(self) -> _Node:  # the XMLParser target's end: the root element
        roots = self._document.children
        if not roots:
            raise SafeET.ParseError("no element found")
        return roots[0]

    def _start(self, tag: str, attrib: dict[str, Any]) -> None:
        stack = self._stack
        top = stack[-1]
        kind = type(top)
        if kind is _EntityFrame:
            if tag == "prop":
                name = attrib.get("name")
                if name:
                    top.props[name] = _leaf_prop(attrib.get("value"), attrib.get("currency_code"))
                stack.append(attrib)
            elif tag == "entity":
                stack.append(_EntityFrame(attrib))
            else:
                stack.append(_IGNORED)
        elif kind is dict:  # a child of a prop
            if _AMOUNTS not in top:
                top[_AMOUNTS] = []
            if tag == "local_time":
                if _LOCAL not in top:
                    top[_LOCAL] = attrib
            elif tag == "amount":
                value = attrib.get("value")
                if value is not None:
                    top[_AMOUNTS].append((attrib.get("currency_code") or "", value))
            stack.append(_IGNORED)
        elif top is _IGNORED:
            stack.append(_IGNORED)
        elif tag == "entity":
            stack.append(_EntityFrame(attrib))
            self._expat.CharacterDataHandler = len  # a C no-op: entities hold no text we read
        else:
            node = _Node(tag, attrib)
            top.children.append(node)
            stack.append(node)

    def _end(self, tag: str) -> None:
        stack = self._stack
        frame = stack.pop()
        kind = type(frame)
        if kind is dict:  # a prop
            if _AMOUNTS in frame:
                name = frame.get("name")
                if name:
                    stack[-1].props[name] = _prop_with_children(frame)
        elif kind is _EntityFrame:
            entity = frame.entity()
            top = stack[-1]
            if type(top) is _EntityFrame:
                top.related.append(entity)
            else:
                top.entities.append(entity)
                self._expat.CharacterDataHandler = self._data

    def _data(self, text: str) -> None:
        node = self._stack[-1]
        if type(node) is _Node and not node.children and not node.entities:  # ElementTree's ``text``
            node.text += text


def _read_xml(body: bytes | str) -> _Node:
    return _XmlReader().read(body)


def _xml_status(root: _Node) -> Status:
    status_el = root.find("status")
    if status_el is None:
        raise WireFormatError("XML answer without <status>")
    code = status_el.get("code") or "error"
    message = (status_el.text or "").strip()
    if not message:
        error_el = root.find("error")
        message = (error_el.text or "").strip() if error_el is not None else ""
    field_errors: list[tuple[str, str]] = []
    errors_el = root.find("errors")
    if errors_el is not None:
        for fe in errors_el.iter("field-error"):
            field_errors.append((fe.get("name") or "", fe.get("error") or fe.text or ""))
        text = (errors_el.text or "").strip()
        if not field_errors and text and text != message:
            field_errors.append(("", text))
    return Status(code=code, message=message, field_errors=tuple(field_errors))


@lru_cache(maxsize=8192)
def _leaf_prop(value: str | None, currency_code: str | None) -> Prop:
    """Props without children are shared (immutable; most values repeat across entities)."""
    return Prop(value=value, currency_code=currency_code)


def _xml_targets(root: _Node, tag: str) -> tuple[WireEntity, ...]:
    """The entities of ``<include>``/``<exclude>`` (inside their ``<entities>``)."""
    el = root.find(tag)
    if el is None:
        return ()
    return tuple(entity for holder in (el, *el.findall("entities")) for entity in holder.entities)


def _xml_history(el: _Node) -> WireHistoryEntry:
    return WireHistoryEntry(
        action=el.get("action") or "",
        date=el.get("date") or "",
        user_id=el.get("user_id"),
        user_name=el.get("user_name"),
        fields=tuple(
            FieldChange(f.get("name") or "", f.get("old_value"), f.get("new_value"))
            for f in el.findall("field")
            if f.get("name") and f.get("name") != "last_modified"
        ),
    )


# -- JSON ------------------------------------------------------------------------------------------
_ENTITY_KEYS = frozenset({"entity_type", "id", "name", "version", "rel"})


def parse_json(body: bytes | str) -> WireResult:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WireFormatError(f"unreadable JSON ({exc})") from exc
    if not isinstance(doc, Mapping):
        raise WireFormatError("JSON answer is not an object")
    raw_meta = doc.get("meta")
    meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
    status = _json_status(doc, meta)
    data = doc.get("data")
    if isinstance(data, list):
        if data and all(isinstance(d, Mapping) and "action" in d and "entity_type" not in d for d in data):
            return WireResult(
                status=status,
                history=tuple(_json_history(d) for d in data),
                count=_int_or_none(meta.get("total_count", meta.get("count"))),
                start=_int_or_none(meta.get("offset")),
            )
        entities = tuple(_json_entity(d) for d in data if isinstance(d, Mapping))
        total = meta.get("total_count", meta.get("count", len(entities)))
        return WireResult(
            status=status, entities=entities, count=_int_or_none(total), start=_int_or_none(meta.get("offset", 0))
        )
    if isinstance(data, Mapping) and "entity_type" not in data and any(k in data for k in ("include", "exclude", "enabled")):
        lists = [tuple(_json_entity(v) for v in (data.get(k) or ()) if isinstance(v, Mapping)) for k in ("include", "exclude")]
        return WireResult(status=status, targets=TargetLists(lists[0], lists[1]))
    if isinstance(data, Mapping):
        session = data.get("session")
        return WireResult(
            status=status,
            entity=_json_entity(data) if "entity_type" in data or "id" in data else None,
            count=1,
            session={k: str(v) for k, v in sorted(session.items())} if isinstance(session, Mapping) else None,
        )
    return WireResult(status=status)


def _json_status(doc: Mapping[str, Any], meta: Mapping[str, Any]) -> Status:
    code = str(meta.get("status") or ("error" if doc.get("errors") else "ok"))
    messages: list[str] = []
    field_errors: list[tuple[str, str]] = []
    errors = doc.get("errors")
    if isinstance(errors, list):
        for err in errors:
            if not isinstance(err, Mapping):
                continue
            text = str(err.get("message") or err.get("error") or "")
            if err.get("field"):
                field_errors.append((str(err["field"]), text))
            elif text:
                messages.append(text)
    message = "; ".join(messages) or str(meta.get("message") or doc.get("message") or "")
    if not message and field_errors:
        message = "Validation errors" if code == "invalid" else ""
    return Status(code=code, message=message, field_errors=tuple(field_errors))


def _json_scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


_NOT_PROPS = frozenset({"entity_type", "rel", "version", "id"})


def _json_entity(data: Mapping[str, Any]) -> WireEntity:
    props: dict[str, Prop] = {}
    related: list[WireEntity] = []
    for key, value in data.items():
        if key in _NOT_PROPS:
            continue
        kind = type(value)
        if kind is str or kind is bool or kind is int or kind is float or value is None:  # most props
            props[key] = _leaf_prop(_json_scalar(value), None)
            continue
        if isinstance(value, Mapping) and "entity_type" in value:
            related.append(_json_entity(value))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) and "entity_type" in v for v in value):
            related.extend(_json_entity(v) for v in value)
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) and "value" in v for v in value):
            amounts = tuple((str(v.get("currency_code") or ""), str(v["value"])) for v in value)
            props[key] = _full_prop(amounts[0][1], None, None, amounts[0][0] or None, amounts)
        elif isinstance(value, (Mapping, list)):
            continue  # a structure we do not model (targeting, permissions)
        else:
            props[key] = Prop(value=_json_scalar(value))
    return WireEntity(
        type=str(data.get("entity_type") or ""),
        id=_json_scalar(data.get("id")) or "",
        name=_json_scalar(data.get("name")),
        version=_int_or_none(data.get("version")),
        rel=_json_scalar(data.get("rel")),
        props=props,
        related=tuple(related),
    )


def _json_history(data: Mapping[str, Any]) -> WireHistoryEntry:
    fields: list[FieldChange] = []
    raw = data.get("fields")
    if isinstance(raw, Mapping):
        for name, change in raw.items():
            if isinstance(change, Mapping) and name != "last_modified":
                fields.append(
                    FieldChange(str(name), _json_scalar(change.get("old_value")), _json_scalar(change.get("new_value")))
                )
    elif isinstance(raw, list):
        for change in raw:
            if isinstance(change, Mapping) and change.get("name") and change.get("name") != "last_modified":
                fields.append(
                    FieldChange(
                        str(change["name"]), _json_scalar(change.get("old_value")), _json_scalar(change.get("new_value"))
                    )
                )
    return WireHistoryEntry(
        action=str(data.get("action") or ""),
        date=str(data.get("date") or ""),
        user_id=_json_scalar(data.get("user_id")),
        user_name=_json_scalar(data.get("user_name")),
        fields=tuple(fields),
    )


# -- helpers ---------------------------------------------------------------------------------------
def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


def error_status(body: bytes | str, content_type: str) -> Status | None:
    """The ``<status>`` of an error answer, or None if the body is not a MediaMath answer."""
    try:
        return parse(body, content_type).status
    except WireFormatError:
        return None


_TAG = re.compile(r"<[^>]*>")


def first_line(text: str, limit: int = 200) -> str:
    """A short excerpt of a non-MediaMath body (an HTML gateway page, a proxy error): the first
    line with text once markup is removed."""
    for line in text.splitlines():
        stripped = _TAG.sub("", line).strip()
        if stripped:
            return stripped[:limit]
    return ""


