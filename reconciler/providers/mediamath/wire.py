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
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from xml.etree.ElementTree import Element

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
        root = SafeET.fromstring(body)
    except (SafeET.ParseError, DefusedXmlException) as exc:
        raise WireFormatError(f"unreadable XML ({exc})") from exc
    if root.tag != "result":
        raise WireFormatError(f"XML root is <{root.tag}>, expected <result>")
    status = _xml_status(root)
    entity_el = root.find("entity")
    entities_el = root.find("entities")
    log_el = root.find("log_entries")
    session_el = root.find("session")
    result = WireResult(status=status)
    if entities_el is not None:
        result = WireResult(
            status=status,
            entities=tuple(_xml_entity(e) for e in entities_el.findall("entity")),
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
    elif entity_el is not None:
        result = WireResult(status=status, entity=_xml_entity(entity_el), count=1)
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


def _xml_status(root: Element) -> Status:
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


def _xml_entity(el: Element) -> WireEntity:
    props: dict[str, Prop] = {}
    related: list[WireEntity] = []
    for child in el:
        if child.tag == "prop":
            name = child.get("name")
            if name:
                props[name] = _xml_prop(child)
        elif child.tag == "entity":
            related.append(_xml_entity(child))
    return WireEntity(
        type=el.get("type") or "",
        id=el.get("id") or "",
        name=el.get("name"),
        version=_int_or_none(el.get("version")),
        rel=el.get("rel"),
        props=props,
        related=tuple(related),
    )


@lru_cache(maxsize=8192)
def _leaf_prop(value: str | None, currency_code: str | None) -> Prop:
    """Props without children are shared (immutable; most values repeat across entities)."""
    return Prop(value=value, currency_code=currency_code)


def _xml_prop(el: Element) -> Prop:
    if not len(el):  # no <local_time>/<amount> children: the common case
        return _leaf_prop(el.get("value"), el.get("currency_code"))
    local = el.find("local_time")
    amounts = tuple(
        (a.get("currency_code") or "", a.get("value") or "") for a in el.findall("amount") if a.get("value") is not None
    )
    return Prop(
        value=el.get("value"),
        zone_name=local.get("zone_name") if local is not None else None,
        local_value=local.get("value") if local is not None else None,
        currency_code=el.get("currency_code"),
        amounts=amounts,
    )


def _xml_history(el: Element) -> WireHistoryEntry:
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


def _json_entity(data: Mapping[str, Any]) -> WireEntity:
    props: dict[str, Prop] = {}
    related: list[WireEntity] = []
    for key, value in data.items():
        if key in ("entity_type", "rel", "version", "id"):
            continue
        if isinstance(value, Mapping) and "entity_type" in value:
            related.append(_json_entity(value))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) and "entity_type" in v for v in value):
            related.extend(_json_entity(v) for v in value)
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) and "value" in v for v in value):
            amounts = tuple((str(v.get("currency_code") or ""), str(v["value"])) for v in value)
            props[key] = Prop(value=amounts[0][1], currency_code=amounts[0][0] or None, amounts=amounts)
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


