"""Response bodies of the MediaMath v2.0 emulator, in XML (default) and JSON.

XML, as in the API's own pages (seed 003) and the SDK's fixtures::

    <?xml version='1.0' ?>
    <result called_on="2014-11-19 20:28:51.537372+00">
      <entity name="Sassytimes" id="515578" type="strategy" version="1">
        <entity name=".." id=".." rel="campaign" type="campaign" version="0">...</entity>
        <prop name="campaign_id" value="166047"/>
        <prop name="start_date" value="2014-10-08T10:08:41"><local_time value=".." zone_name="Etc/GMT"/></prop>
        <prop name="budget" currency_code="USD" value="10.00"><amount currency_code="USD" value="10.00"/></prop>
      </entity>
      <status code="ok"/>
    </result>

Collections are ``<entities count=TOTAL start=OFFSET>``; entities without ``full`` carry only
``name id [rel] type``. Related entities (``with``) come before the props, in the reverse of the
order they were asked for. Null props are omitted. JSON (``application/vnd.mediamath.v1+json``):
``{"data": {...,"entity_type","id","name","version"}, "meta": {"status","called_on","etag"}}``;
money as ``[{"currency_code","value"}]``, booleans true/false, dates ``YYYY-MM-DDTHH:MM:SS+0000``.
XML is built with ElementTree and written as ``ET.indent`` + ``ET.tostring`` would write it (by a
writer made for these namespace-free trees), so names such as ``Food & Beverages`` are escaped.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from reconciler.sandbox.mediamath.models import ENTITY_TYPES, FieldError, FieldType
from reconciler.sandbox.mediamath.query import Resolver
from reconciler.sandbox.mediamath.values import local_time, wire_value

XML_TYPE = "text/xml; charset=utf-8"
JSON_TYPE = "application/vnd.mediamath.v1+json; charset=utf-8"
XML_DECL = "<?xml version='1.0' ?>\n"


class Format(Enum):
    XML = "xml"
    JSON = "json"

    @property
    def content_type(self) -> str:
        return XML_TYPE if self is Format.XML else JSON_TYPE


def called_on_pg(now: datetime | None = None) -> str:
    """Postgres timestamptz text, as in ``called_on="2014-11-18 16:34:14.008469+00"``."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S.%f") + "+00"


def called_on_json(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S+0000")


def json_date(text: str) -> str:
    return f"{text}+0000"


def _group(chains: Sequence[tuple[str, ...]]) -> list[tuple[str, list[tuple[str, ...]]]]:
    """First relation of each chain -> the tails below it, in first-asked order."""
    groups: dict[str, list[tuple[str, ...]]] = {}
    for chain in chains:
        groups.setdefault(chain[0], [])
        if len(chain) > 1:
            groups[chain[0]].append(chain[1:])
    return list(groups.items())


class Renderer:
    def __init__(self, resolver: Resolver, fmt: Format) -> None:
        self.resolver = resolver
        self.fmt = fmt

    # -- entities ----------------------------------------------------------------------------------
    def entity_xml(
        self,
        coll: str,
        doc: Mapping[str, Any],
        is_full: Callable[[str], bool],
        chains: Sequence[tuple[str, ...]],
        rel: str | None = None,
    ) -> ET.Element:
        etype = ENTITY_TYPES[coll]
        full = is_full(etype.type)
        attrs = {"name": str(doc.get("name") or ""), "id": str(doc["id"])}
        if rel is not None:
            attrs["rel"] = rel
        attrs["type"] = etype.type
        if full:
            attrs["version"] = str(doc.get("version", 0))
        el = ET.Element("entity", attrs)
        for rel_name, tails in reversed(_group(chains)):
            target, related, _plural = self.resolver.related(coll, doc, rel_name)
            for other in related:
                el.append(self.entity_xml(target, other, is_full, tails, rel=rel_name))
        if not full:
            return el
        zone = self.resolver.repo.zone_of(coll, doc)
        currency = self.resolver.repo.currency_of(coll, doc) if etype.zoned else None
        for f in etype.fields:
            if f.write_only:
                continue
            value = self.resolver.value(coll, doc, f.name)
            if value is None:
                continue
            text = wire_value(f, value)
            if f.type is FieldType.MONEY:
                code = currency or "USD"
                prop = ET.SubElement(el, "prop", {"name": f.name, "currency_code": code, "value": text})
                ET.SubElement(prop, "amount", {"currency_code": code, "value": text})
            else:
                prop = ET.SubElement(el, "prop", {"name": f.name, "value": text})
                if f.type is FieldType.DATETIME and zone is not None:
                    ET.SubElement(prop, "local_time", {"value": local_time(text, zone), "zone_name": zone})
        return el

    def entity_json(
        self,
        coll: str,
        doc: Mapping[str, Any],
        is_full: Callable[[str], bool],
        chains: Sequence[tuple[str, ...]],
        rel: str | None = None,
    ) -> dict[str, Any]:
        etype = ENTITY_TYPES[coll]
        full = is_full(etype.type)
        out: dict[str, Any] = {"entity_type": etype.type, "id": doc["id"], "name": doc.get("name")}
        if rel is not None:
            out["rel"] = rel
        if full:
            out["version"] = int(doc.get("version", 0))
            currency = self.resolver.repo.currency_of(coll, doc) if etype.zoned else "USD"
            for f in etype.fields:
                if f.write_only or f.name == "name":
                    continue
                value = self.resolver.value(coll, doc, f.name)
                if value is None:
                    continue
                if f.type is FieldType.MONEY:
                    out[f.name] = [{"currency_code": currency, "value": float(Decimal(str(value)))}]
                elif f.type is FieldType.DEC:
                    out[f.name] = float(Decimal(str(value)))
                elif f.type is FieldType.DATETIME:
                    out[f.name] = json_date(str(value))
                elif f.type is FieldType.BOOL:
                    out[f.name] = bool(value)
                else:
                    out[f.name] = value
        for rel_name, tails in _group(chains):
            target, related, plural = self.resolver.related(coll, doc, rel_name)
            rendered = [self.entity_json(target, other, is_full, tails, rel=rel_name) for other in related]
            if plural:
                out[rel_name] = rendered
            elif rendered:
                out[rel_name] = rendered[0]
        return out

    # -- documents ---------------------------------------------------------------------------------
    def single(self, coll: str, doc: Mapping[str, Any], chains: Sequence[tuple[str, ...]] = ()) -> str:
        def always(_: str) -> bool:
            return True

        if self.fmt is Format.JSON:
            data = self.entity_json(coll, doc, always, chains)
            return _json_doc(data, {"status": "ok"})
        root = _result()
        root.append(self.entity_xml(coll, doc, always, chains))
        return _xml_doc(root)

    def collection(
        self,
        coll: str,
        docs: Sequence[Mapping[str, Any]],
        total: int,
        offset: int,
        is_full: Callable[[str], bool],
        chains: Sequence[tuple[str, ...]],
        next_page: str | None = None,
    ) -> str:
        if self.fmt is Format.JSON:
            data = [self.entity_json(coll, d, is_full, chains) for d in docs]
            meta: dict[str, Any] = {"status": "ok", "count": len(docs), "total_count": total, "offset": offset}
            if next_page:
                meta["next_page"] = next_page
            return _json_doc(data, meta)
        root = _result()
        entities = ET.SubElement(root, "entities", {"count": str(total), "start": str(offset)})
        for d in docs:
            entities.append(self.entity_xml(coll, d, is_full, chains))
        return _xml_doc(root)

    def history(self, entries: Sequence[Mapping[str, Any]], total: int, offset: int) -> str:
        if self.fmt is Format.JSON:
            data = [
                {
                    "action": e["action"],
                    "date": json_date(e["date"]),
                    "user_id": e.get("user_id"),
                    "user_name": e.get("user_name"),
                    "fields": [dict(f) for f in e.get("fields", [])],
                }
                for e in entries
            ]
            return _json_doc(data, {"status": "ok", "count": len(entries), "total_count": total, "offset": offset})
        root = ET.Element("result")  # the documented history answer has no called_on
        log = ET.SubElement(root, "log_entries", {"count": str(total), "start": str(offset)})
        for e in entries:
            entry = ET.SubElement(
                log,
                "entry",
                {"action": e["action"], "date": e["date"], "user_id": str(e.get("user_id") or ""),
                 "user_name": str(e.get("user_name") or "")},
            )
            for f in e.get("fields", []):
                ET.SubElement(entry, "field", {"name": f["name"], "new_value": f["new_value"] or "",
                                               "old_value": f["old_value"] or ""})
        return _xml_doc(root)

    def session(self, user: Mapping[str, Any], sessionid: str, current: str, expires: str) -> str:
        if self.fmt is Format.JSON:
            data = {
                "session": {"current_time": current, "sessionid": sessionid, "expires": expires},
                "entity_type": "user",
                "name": user["name"],
                "id": user["id"],
            }
            return _json_doc(data, {"status": "ok"})
        root = _result()
        ET.SubElement(root, "entity", {"name": str(user["name"]), "id": str(user["id"]), "type": "user"})
        ET.SubElement(root, "session", {"current_time": current, "expires": expires, "sessionid": sessionid})
        return _xml_doc(root)


    def target_dimension(self, include: Sequence[Mapping[str, Any]], exclude: Sequence[Mapping[str, Any]]) -> str:
        """A strategy's target dimension (reference §2.1): ``<enabled active>``, then ``<include>``
        and ``<exclude>`` with ``<entities target_op="OR">`` of target values; JSON ``data``
        ``{"enabled": {"active"}, "include": [...], "exclude": [...]}``."""
        active = bool(include or exclude)
        if self.fmt is Format.JSON:
            data = {
                "enabled": {"active": active},
                "include": [_target_value_json(v) for v in include],
                "exclude": [_target_value_json(v) for v in exclude],
            }
            return _json_doc(data, {"status": "ok"})
        root = _result()
        ET.SubElement(root, "enabled", {"active": "1" if active else "0"})
        for tag, docs in (("include", include), ("exclude", exclude)):
            entities = ET.SubElement(ET.SubElement(root, tag), "entities", {"target_op": "OR"})
            for doc in docs:
                el = ET.SubElement(entities, "entity",
                                   {"name": str(doc.get("name") or ""), "id": str(doc["id"]), "type": "target_value"})
                for prop in _TARGET_VALUE_PROPS:
                    value = doc.get(prop)
                    if value is None:
                        continue
                    text = ("1" if value else "0") if isinstance(value, bool) else str(value)
                    ET.SubElement(el, "prop", {"name": prop, "value": text})
        return _xml_doc(root)

    def status_only(self) -> str:
        if self.fmt is Format.JSON:
            return json.dumps({"meta": {"status": "ok", "called_on": called_on_json()}})
        return _xml_doc(_result())


def error_body(fmt: Format, code: str, message: str, field_errors: Sequence[FieldError] = ()) -> str:
    """``<error>`` + ``<errors>`` + ``<status code>``, or ``{"errors": [...], "meta": {"status"}}``."""
    if fmt is Format.JSON:
        if field_errors:
            errors = [{"type": "field-error", "field": e.name, "message": e.error} for e in field_errors]
        else:
            errors = [{"message": message}]
        return json.dumps({"errors": errors, "meta": {"status": code, "called_on": called_on_json()}})
    root = _result()
    ET.SubElement(root, "error").text = message
    errors_el = ET.SubElement(root, "errors")
    if field_errors:
        for e in field_errors:
            ET.SubElement(errors_el, "field-error", {"name": e.name, "error": e.error})
    else:
        errors_el.text = message
    ET.SubElement(root, "status", {"code": code}).text = message
    return _xml_doc(root, status=False)


def _result() -> ET.Element:
    return ET.Element("result", {"called_on": called_on_pg()})


def _xml_doc(root: ET.Element, status: bool = True) -> str:
    if status:
        ET.SubElement(root, "status", {"code": "ok"})
    out = [XML_DECL]
    _write_xml(root, out, "\n")
    out.append("\n")
    return "".join(out)


def _write_xml(el: ET.Element, out: list[str], indent: str) -> None:
    """What ``ET.indent(el, space="  ")`` then ``ET.tostring(el, encoding="unicode")`` write, for
    the trees built here (no namespaces, comments or processing instructions), without changing
    ``el``. ElementTree's general serializer spent more time than everything else the emulator
    does for a page of entities. ``indent`` is a newline plus the spaces of ``el``'s own level."""
    attrs = "".join([f' {k}="{_escape_attrib(v)}"' for k, v in el.items()])
    text = el.text
    if not len(el):
        out.append(f"<{el.tag}{attrs}>{_escape_cdata(text)}</{el.tag}>" if text else f"<{el.tag}{attrs} />")
        return
    inner = indent + "  "
    out.append(f"<{el.tag}{attrs}>")
    out.append(_escape_cdata(text) if text and text.strip() else inner)
    last = len(el) - 1
    for i, child in enumerate(el):
        _write_xml(child, out, inner)
        tail = child.tail
        out.append(_escape_cdata(tail) if tail and tail.strip() else indent if i == last else inner)
    out.append(f"</{el.tag}>")


def _escape_cdata(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attrib(text: str) -> str:
    if not _ATTRIB_SPECIAL.isdisjoint(text):
        for char, entity in _ATTRIB_ENTITIES:
            text = text.replace(char, entity)
    return text


_ATTRIB_ENTITIES = (
    ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("\r", "&#13;"), ("\n", "&#10;"), ("\t", "&#09;")
)
_ATTRIB_SPECIAL = frozenset(c for c, _ in _ATTRIB_ENTITIES)


def _json_doc(data: Any, meta: dict[str, Any]) -> str:
    meta = dict(meta)
    meta.setdefault("called_on", called_on_json())
    if "etag" not in meta:
        meta["etag"] = hashlib.sha1(json.dumps(data, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
    return json.dumps({"data": data, "meta": dict(sorted(meta.items()))})


_TARGET_VALUE_PROPS = ("value", "code", "is_targetable", "target_dimension_id", "name")


def _target_value_json(doc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"entity_type": "target_value", "id": doc["id"], "name": doc.get("name")}
    for prop in _TARGET_VALUE_PROPS:
        if prop != "name" and doc.get(prop) is not None:
            out[prop] = doc[prop]
    return out
