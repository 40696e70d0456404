"""Collection parameters of the MediaMath v2.0 API: parsing and evaluation.

- ``page_limit`` (default 100, 1..100; above 100 is a 400 ``invalid``) and ``page_offset`` (index of
  the first element);
- ``sort_by``: comma list of fields, ``-`` for descending (default ``id``);
- ``full``: ``*`` or a comma list of entity types whose props are rendered;
- ``with``: repeated; each value a comma chain of relations (``campaign,advertiser``), plural
  relations allowed (``campaigns?with=strategies``);
- ``q``: predicates joined by ``&`` inside the value: ``field==v``, ``!=``, ``=:`` (case-insensitive,
  ``*`` wildcard), ``<``, ``<=``, ``>``, ``>=``, ``field:null``, ``field:!null``, ``field==(a,b)``,
  ``(id,...)`` (ids 1..2147483647) and ``<text>`` (substring over every string field);
- ``/limit/<rel>[.<rel>...]=<id>``: entities related (through the chain) to that id.

Every bad parameter raises :class:`~reconciler.sandbox.mediamath.repo.ValidationFailed` naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.sandbox.mediamath.models import (
    BY_TYPE,
    ENTITY_TYPES,
    MAX_ID,
    EntityType,
    Field,
    FieldError,
    FieldType,
    RelationKind,
)
from reconciler.sandbox.mediamath.repo import Repo, ValidationFailed
from reconciler.sandbox.mediamath.values import format_datetime, parse_datetime, wire_value

MAX_PAGE = 100
ID_FIELD = Field("id", FieldType.INT)
VERSION_FIELD = Field("version", FieldType.INT)
_OPS = ("==", "!=", "=:", "<=", ">=", "<", ">", ":")
_PRED = re.compile(r"^\s*(?P<field>[A-Za-z_][A-Za-z0-9_.]*)\s*(?P<op>==|!=|=:|<=|>=|<|>|:)(?P<value>.*)$", re.S)
_PRED_START = re.compile(r"^\s*(\(|<|[A-Za-z_][A-Za-z0-9_.]*\s*(==|!=|=:|<=|>=|<|>|:))")


@dataclass(frozen=True)
class Predicate:
    field: str
    op: str  # == != =: < <= > >= null !null in search ids
    value: Any = None


@dataclass(frozen=True)
class ListParams:
    limit: int = MAX_PAGE
    offset: int = 0
    sort: tuple[tuple[str, bool], ...] = (("id", False),)  # (field, descending)
    full: frozenset[str] | None = None  # None: no props; {"*"}: every type
    withs: tuple[tuple[str, ...], ...] = ()
    predicates: tuple[Predicate, ...] = ()
    limit_chain: tuple[str, ...] = ()
    limit_ids: frozenset[int] = frozenset()

    def is_full(self, entity_type: str) -> bool:
        return self.full is not None and ("*" in self.full or entity_type in self.full)


def field_for(etype: EntityType, name: str) -> Field | None:
    if name == "id":
        return ID_FIELD
    if name == "version":
        return VERSION_FIELD
    f = etype.by_name.get(name)
    if f is None or f.write_only:
        return None
    return f


def _bad(param: str, error: str) -> ValidationFailed:
    return ValidationFailed([FieldError(param, error)])


def _int_param(args: Mapping[str, str], name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _bad(name, "must be an integer") from None


def parse_withs(etype: EntityType, values: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """``with`` chains; a relation the reference names without describing its entity (currency,
    time_zone, seats: ``EntityType.unmodelled_relations``) is accepted at the end of a chain and
    nests nothing, as a relation whose target is unset."""
    chains: list[tuple[str, ...]] = []
    for value in values:
        chain = tuple(part.strip() for part in value.split(",") if part.strip())
        current = etype
        kept: list[str] = []
        for i, rel_name in enumerate(chain):
            rel = current.relation(rel_name)
            if rel is None and rel_name in current.unmodelled_relations and i == len(chain) - 1:
                break
            if rel is None:
                raise _bad("with", f"{current.type} has no relation {rel_name!r}")
            kept.append(rel_name)
            current = ENTITY_TYPES[rel.target]
        if kept:
            chains.append(tuple(kept))
    return tuple(chains)


def parse_page(args: Mapping[str, str]) -> tuple[int, int]:
    """(page_limit, page_offset): default 100 and 0; page_limit above 100 is invalid."""
    limit = _int_param(args, "page_limit", MAX_PAGE)
    if limit > MAX_PAGE:
        raise _bad("page_limit", f"must be at most {MAX_PAGE}")
    if limit < 1:
        raise _bad("page_limit", "must be at least 1")
    offset = _int_param(args, "page_offset", 0)
    if offset < 0:
        raise _bad("page_offset", "must not be negative")
    return limit, offset


def parse_list_params(etype: EntityType, args: Any, limit_path: str | None = None) -> ListParams:
    """``args`` is a werkzeug MultiDict of the query string."""
    limit, offset = parse_page(args)
    sort: list[tuple[str, bool]] = []
    for part in (args.get("sort_by") or "id").split(","):
        part = part.strip()
        if not part:
            continue
        desc = part.startswith("-")
        name = part.lstrip("-+")
        if field_for(etype, name) is None:
            raise _bad("sort_by", f"{etype.type} has no field {name!r}")
        sort.append((name, desc))
    full: frozenset[str] | None = None
    full_raw = args.get("full")
    if full_raw is not None and full_raw != "":
        names = {p.strip() for p in full_raw.split(",") if p.strip()}
        resolved: set[str] = set()
        for name in names:
            if name in ("*", "true", "1"):
                resolved.add("*")
            elif name in BY_TYPE:
                resolved.add(name)
            elif name in ENTITY_TYPES:
                resolved.add(ENTITY_TYPES[name].type)
            else:
                raise _bad("full", f"unknown entity type {name!r}")
        full = frozenset(resolved)
    withs = parse_withs(etype, args.getlist("with"))
    predicates = parse_q(etype, args.get("q") or "")
    chain: tuple[str, ...] = ()
    ids: frozenset[int] = frozenset()
    if limit_path is not None:
        chain, ids = parse_limit(etype, limit_path)
    return ListParams(limit, offset, tuple(sort) or (("id", False),), full, withs, predicates, chain, ids)


def parse_limit(etype: EntityType, text: str) -> tuple[tuple[str, ...], frozenset[int]]:
    rel_part, sep, id_part = text.partition("=")
    if not sep or not rel_part:
        raise _bad("limit", "expected /limit/<relation>=<id>")
    chain = tuple(rel_part.split("."))
    current = etype
    for rel_name in chain:
        rel = current.relation(rel_name)
        if rel is None:
            raise _bad("limit", f"{current.type} has no relation {rel_name!r}")
        current = ENTITY_TYPES[rel.target]
    try:
        ids = frozenset(int(p) for p in id_part.split(",") if p.strip())
    except ValueError:
        raise _bad("limit", "ids must be integers") from None
    if not ids:
        raise _bad("limit", "expected an id")
    return chain, ids


def split_q(text: str) -> list[str]:
    """Split on ``&`` where the rest starts a new predicate (so values may contain ``&``)."""
    parts: list[str] = []
    start = 0
    for i, ch in enumerate(text):
        if ch == "&" and _PRED_START.match(text[i + 1 :]):
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def _parse_ids(text: str, param: str = "q") -> tuple[int, ...]:
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = int(part)
        except ValueError:
            raise _bad(param, f"invalid id {part!r}") from None
        if not 1 <= value <= MAX_ID:
            raise _bad(param, f"id {value} is outside 1..{MAX_ID}")
        ids.append(value)
    if not ids:
        raise _bad(param, "empty id list")
    return tuple(ids)


def _typed_operand(f: Field, text: str) -> Any:
    if f.type is FieldType.INT:
        try:
            return int(text)
        except ValueError:
            raise _bad("q", f"{f.name} needs an integer, not {text!r}") from None
    if f.is_decimal:
        try:
            return Decimal(text)
        except InvalidOperation:
            raise _bad("q", f"{f.name} needs a number, not {text!r}") from None
    if f.type is FieldType.BOOL:
        low = text.strip().lower()
        if low in ("1", "true"):
            return 1
        if low in ("0", "false"):
            return 0
        raise _bad("q", f"{f.name} needs 0 or 1, not {text!r}")
    if f.type is FieldType.DATETIME:
        try:
            return format_datetime(parse_datetime(text))
        except ValueError:
            raise _bad("q", f"{f.name} needs a date, not {text!r}") from None
    return text


def parse_q(etype: EntityType, text: str) -> tuple[Predicate, ...]:
    predicates: list[Predicate] = []
    for part in split_q(text):
        stripped = part.strip()
        if stripped.startswith("(") and stripped.endswith(")"):
            predicates.append(Predicate("id", "in", frozenset(_parse_ids(stripped[1:-1]))))
            continue
        if stripped.startswith("<") and stripped.endswith(">") and len(stripped) >= 2:
            predicates.append(Predicate("*", "search", stripped[1:-1].lower()))
            continue
        m = _PRED.match(part)
        if not m:
            raise _bad("q", f"cannot parse predicate {part!r}")
        name, op, value = m.group("field"), m.group("op"), m.group("value")
        f = field_for(etype, name)
        if f is None:
            raise _bad("q", f"{etype.type} has no field {name!r}")
        if op == ":":
            if value.strip() == "null":
                predicates.append(Predicate(name, "null"))
            elif value.strip() == "!null":
                predicates.append(Predicate(name, "!null"))
            else:
                raise _bad("q", f"expected {name}:null or {name}:!null")
            continue
        if op == "=:":
            pattern = re.compile(".*".join(re.escape(p) for p in value.split("*")), re.I | re.S)
            predicates.append(Predicate(name, "=:", pattern))
            continue
        stripped_value = value.strip()
        if op in ("==", "!=") and stripped_value.startswith("(") and stripped_value.endswith(")"):
            items = [p.strip() for p in stripped_value[1:-1].split(",") if p.strip()]
            if name == "id":
                operands = frozenset(_parse_ids(stripped_value[1:-1]))
            else:
                operands = frozenset(_typed_operand(f, p) for p in items)
            predicates.append(Predicate(name, "in" if op == "==" else "not in", operands))
            continue
        predicates.append(Predicate(name, op, _typed_operand(f, value if f.type is FieldType.STR else stripped_value)))
    return tuple(predicates)


class Resolver:
    """Per-request view of the data: values, relations (with indexes for plural ones), filters."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._children: dict[tuple[str, str], dict[Any, list[dict[str, Any]]]] = {}
        self._orgs: dict[tuple[str, Any], int | None] = {}

    def org_of(self, coll: str, doc: Mapping[str, Any]) -> int | None:
        """The owning organisation, memoised per parent (a page of strategies shares campaigns)."""
        etype = ENTITY_TYPES[coll]
        if etype.owner is None or etype.owner == "" or etype.owner_collection == "organizations":
            return self.repo.org_of(coll, doc)
        assert etype.owner_collection is not None
        key = (etype.owner_collection, doc.get(etype.owner))
        if key not in self._orgs:
            parent = self.repo.get(etype.owner_collection, doc.get(etype.owner))
            self._orgs[key] = self.org_of(etype.owner_collection, parent) if parent is not None else None
        return self._orgs[key]

    def children(self, coll: str, via: str, parent_id: Any) -> list[dict[str, Any]]:
        key = (coll, via)
        index = self._children.get(key)
        if index is None:
            index = {}
            for doc in self.repo.all(coll):
                index.setdefault(doc.get(via), []).append(doc)
            for docs in index.values():
                docs.sort(key=lambda d: d["id"])
            self._children[key] = index
        return index.get(parent_id, [])

    def related(self, coll: str, doc: Mapping[str, Any], rel_name: str) -> tuple[str, list[dict[str, Any]], bool]:
        """(target collection, related docs, plural?)"""
        rel = ENTITY_TYPES[coll].relation(rel_name)
        assert rel is not None
        if rel.kind is RelationKind.SINGLE:
            target = self.repo.get(rel.target, doc.get(rel.via))
            return rel.target, [target] if target is not None else [], False
        return rel.target, self.children(rel.target, rel.via, doc.get("id")), True

    def value(self, coll: str, doc: Mapping[str, Any], name: str) -> Any:
        return self.repo.value(coll, doc, name)

    # -- filters ---------------------------------------------------------------------------------
    def matches_limit(self, coll: str, doc: Mapping[str, Any], chain: Sequence[str], ids: frozenset[int]) -> bool:
        docs: list[tuple[str, Mapping[str, Any]]] = [(coll, doc)]
        for i, rel_name in enumerate(chain):
            last = i == len(chain) - 1
            nxt: list[tuple[str, Mapping[str, Any]]] = []
            for c, d in docs:
                rel = ENTITY_TYPES[c].relation(rel_name)
                assert rel is not None
                if last and rel.kind is RelationKind.SINGLE:
                    if d.get(rel.via) in ids:
                        return True
                    continue
                target_coll, related, _ = self.related(c, d, rel_name)
                if last:
                    if any(r["id"] in ids for r in related):
                        return True
                    continue
                nxt.extend((target_coll, r) for r in related)
            docs = nxt
        return False

    def matches(self, coll: str, doc: Mapping[str, Any], pred: Predicate) -> bool:
        etype = ENTITY_TYPES[coll]
        if pred.op == "search":
            needle = str(pred.value)
            for name in etype.string_fields():
                value = self.value(coll, doc, name)
                if value is not None and needle in str(value).lower():
                    return True
            return False
        f = field_for(etype, pred.field)
        assert f is not None
        raw = doc.get(pred.field) if pred.field in ("id", "version") else self.value(coll, doc, pred.field)
        if pred.op == "null":
            return raw is None
        if pred.op == "!null":
            return raw is not None
        if pred.op == "=:":
            return raw is not None and bool(pred.value.fullmatch(wire_value(f, raw)))
        value = _comparable(f, raw)
        if pred.op == "in":
            return value in pred.value
        if pred.op == "not in":
            return value not in pred.value
        if pred.op == "!=":
            return value != pred.value
        if value is None:
            return False
        if pred.op == "==":
            return bool(value == pred.value)
        if pred.op == "<":
            return bool(value < pred.value)
        if pred.op == "<=":
            return bool(value <= pred.value)
        if pred.op == ">":
            return bool(value > pred.value)
        if pred.op == ">=":
            return bool(value >= pred.value)
        raise AssertionError(pred.op)  # pragma: no cover

    def sort(self, coll: str, docs: list[dict[str, Any]], keys: Sequence[tuple[str, bool]]) -> list[dict[str, Any]]:
        etype = ENTITY_TYPES[coll]
        result = list(docs)
        for name, desc in reversed(keys):
            f = field_for(etype, name)
            assert f is not None

            def key(d: Mapping[str, Any], f: Field = f, name: str = name, desc: bool = desc) -> tuple[bool, Any]:
                raw = d.get(name) if name in ("id", "version") else self.value(coll, d, name)
                v = _comparable(f, raw)
                return (v is None) != desc, v if v is not None else 0

            result.sort(key=key, reverse=desc)
        return result


def _comparable(f: Field, raw: Any) -> Any:
    if raw is None:
        return None
    if f.is_decimal:
        return Decimal(str(raw))
    if f.type is FieldType.BOOL:
        return int(bool(raw))
    if f.type is FieldType.INT:
        return int(raw)
    return raw


def select(
    resolver: Resolver,
    coll: str,
    params: ListParams,
    org_id: int | None,
    candidates: list[dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """(the requested page, total matches) of ``coll`` visible to organisation ``org_id``."""
    etype = ENTITY_TYPES[coll]
    repo = resolver.repo
    id_sets = [p.value for p in params.predicates if p.op == "in" and p.field == "id"]
    rest = [p for p in params.predicates if not (p.op == "in" and p.field == "id")]
    if candidates is None:
        if id_sets:
            wanted = sorted(set.intersection(*(set(s) for s in id_sets)))
            candidates = [d for d in (repo.get(coll, i) for i in wanted) if d is not None]
        else:
            candidates = repo.all(coll)
    elif id_sets:
        allowed = set.intersection(*(set(s) for s in id_sets))
        candidates = [d for d in candidates if d["id"] in allowed]
    scoped = etype.owner is not None
    out: list[dict[str, Any]] = []
    for doc in candidates:
        if scoped and resolver.org_of(coll, doc) != org_id:
            continue
        if params.limit_chain and not resolver.matches_limit(coll, doc, params.limit_chain, params.limit_ids):
            continue
        if any(not resolver.matches(coll, doc, p) for p in rest):
            continue
        out.append(doc)
    ordered = resolver.sort(coll, out, params.sort)
    return ordered[params.offset : params.offset + params.limit], len(ordered)
