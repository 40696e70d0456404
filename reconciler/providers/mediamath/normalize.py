"""Translate between MediaMath's wire values and the manifest vocabulary, both ways.

The same canonical form is produced from a live entity (:func:`live_fields`) and from a desired
spec (:func:`normalize_spec`), so equal things compare equal:

- **ids** (``campaign_id``, ``vertical_id``...): strings (``"100048"``).
- **booleans**: ``true``/``false`` (the wire's ``"0"``/``"1"``).
- **money and decimals**: JSON numbers rounded to the API's scale (2 places, 4 for
  ``goal_value``/``margin_pct``/``roi_target``), integral values as integers (``50000`` not
  ``50000.0``); a currency-tagged money value is read in the entity's own ``currency_code``.
- **datetimes**: UTC ``YYYY-MM-DDTHH:MM:SSZ`` (seconds precision). The API's ``value`` is UTC
  (the ``<local_time>`` child only restates it in the campaign's zone). A manifest time with an
  offset (``Z``, ``+02:00``, ``+0200``) is converted to UTC. A manifest time *without* an
  offset is read in the object's own ``zone_name`` when the spec sets one (Campaign,
  BudgetFlight), else in UTC; a date alone means midnight. On the wire, times are sent as UTC
  ``YYYY-MM-DDTHH:MM:SS`` (the v2.0 format, no offset).
- **strings**: unchanged; an empty wire value of a non-string field is ``None``.

:func:`to_form` encodes manifest values for a form POST: booleans ``1``/``0``, datetimes as above,
money as plain decimals, ``None`` as an empty string (which clears the field).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.errors import ManifestError
from reconciler.model import Ref
from reconciler.providers.mediamath.kinds import SCALE, FieldType, KindSpec
from reconciler.providers.mediamath.wire import Prop, WireEntity

UTC = dt.UTC
WIRE_DATETIME = "%Y-%m-%dT%H:%M:%S"
_DATETIME_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?)?$"
)
DEC_SCALE = 6  # plain decimals: only float noise is removed


class ValueProblem(ValueError):
    """A value that cannot be read as its field's type (wrapped with the field path by callers)."""


# -- single values ---------------------------------------------------------------------------------
def canonical_datetime(value: Any, zone: str | None = None) -> str | None:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ``; a naive value is read in ``zone`` (IANA name) or UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    else:
        moment = _parse_datetime(str(value).strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone(zone) if zone else UTC)
    return moment.astimezone(UTC).replace(microsecond=0).strftime(WIRE_DATETIME) + "Z"


def _parse_datetime(text: str) -> dt.datetime:
    m = _DATETIME_RE.match(text)
    if not m:
        raise ValueProblem(f"'{text}' is not a date-time (YYYY-MM-DDTHH:MM:SS with an optional offset)")
    iso = m["date"] + "T" + (m["time"] or "00:00:00")
    tz = m["tz"]
    if tz == "Z":
        iso += "+00:00"
    elif tz:
        iso += tz if ":" in tz else f"{tz[:3]}:{tz[3:]}"
    try:
        return dt.datetime.fromisoformat(iso)
    except ValueError as exc:
        raise ValueProblem(f"'{text}' is not a valid date-time ({exc})") from exc


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueProblem(f"unknown time zone '{name}'") from exc


def wire_datetime(canonical: str) -> str:
    """The v2.0 write format of a canonical UTC time: ``YYYY-MM-DDTHH:MM:SS`` (UTC, no offset)."""
    moment = _parse_datetime(canonical.removesuffix("Z") if canonical.endswith("Z") else canonical)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime(WIRE_DATETIME)


def canonical_number(value: Any, scale: int) -> int | float | None:
    """A JSON number rounded half-up to ``scale`` places; integral values as int."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueProblem(f"'{value}' is not a number") from exc
    if not number.is_finite():
        raise ValueProblem(f"'{value}' is not a finite number")
    number = number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def canonical_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not an integer")
    if isinstance(value, int):
        return value
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueProblem(f"'{value}' is not an integer") from exc
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueProblem(f"'{value}' is not an integer")
    return int(number)


def canonical_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "t", "yes", "on"):
        return True
    if text in ("0", "false", "f", "no", "off"):
        return False
    raise ValueProblem(f"'{value}' is not a boolean (true/false, 1/0)")


def canonical_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not an id")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def canonical_value(field: str, ftype: FieldType, value: Any, zone: str | None = None) -> Any:
    """The canonical manifest form of one value of ``field`` (of wire type ``ftype``)."""
    if isinstance(value, Ref):
        return value  # not resolved yet: compared by the engine, not here
    if ftype is FieldType.ID:
        return canonical_id(value)
    if ftype is FieldType.BOOL:
        return canonical_bool(value)
    if ftype is FieldType.INT:
        return canonical_int(value)
    if ftype is FieldType.MONEY:
        return canonical_number(value, SCALE.get(field, 2))
    if ftype is FieldType.DEC:
        return canonical_number(value, SCALE.get(field, DEC_SCALE))
    if ftype is FieldType.DATETIME:
        return canonical_datetime(value, zone)
    return None if value is None else str(value)


# -- whole objects ---------------------------------------------------------------------------------
def live_fields(spec: KindSpec, entity: WireEntity) -> dict[str, Any]:
    """The manifest-vocabulary fields of a live entity (schema fields only, sorted)."""
    currency = entity.value("currency_code")
    props = entity.props
    fields, memo = _live_plan(spec)
    out: dict[str, Any] = {}
    for field, ftype, money in fields:
        prop = props.get(field)
        if prop is None:
            if field == "name" and entity.name is not None:
                out["name"] = entity.name
            continue
        raw = _money_value(prop, currency) if money else prop.value
        try:
            out[field] = memo[(field, raw)]
            continue
        except KeyError:
            pass
        try:
            value = _live_value(field, ftype, raw)
        except ValueProblem:
            out[field] = raw  # shown as-is rather than failing a whole refresh
            continue
        if len(memo) >= _LIVE_MEMO_MAX:
            memo.clear()
        out[field] = memo[(field, raw)] = value
    return out


# Per kind: its fields as (name, type, is money), and the canonical value of each (field, wire
# string) met so far. A refresh meets the same strings (flags, enums, amounts) thousands of
# times; the values are immutable scalars, and a field has one type within a kind.
_LivePlan = tuple[tuple[tuple[str, FieldType, bool], ...], dict[tuple[str, str | None], Any]]
_LIVE_PLANS: dict[str, tuple[KindSpec, _LivePlan]] = {}
_LIVE_MEMO_MAX = 16384


def _live_plan(spec: KindSpec) -> _LivePlan:
    entry = _LIVE_PLANS.get(spec.kind)
    if entry is None or entry[0] is not spec:
        fields = tuple((field, ftype, ftype is FieldType.MONEY) for field, ftype in spec.fields.items())
        entry = (spec, (fields, {}))
        _LIVE_PLANS[spec.kind] = entry
    return entry[1]


def _live_value(field: str, ftype: FieldType, raw: str | None) -> Any:
    """``canonical_value`` of a wire string (memoised per kind by :func:`live_fields`): wire
    datetimes are UTC (XML) or carry an offset (JSON)."""
    return canonical_value(field, ftype, raw, None)


_SCALARS = frozenset({str, int, float, bool, type(None)})


@lru_cache(maxsize=16384, typed=True)
def _scalar_value(field: str, ftype: FieldType, value: str | int | float | bool | None, zone: str | None) -> Any:
    """``canonical_value`` of a manifest scalar, memoised: manifests repeat the same values
    (``typed``: ``True`` and ``1`` are different inputs)."""
    return canonical_value(field, ftype, value, zone)


def _money_value(prop: Prop, currency: str | None) -> str | None:
    if currency:
        for code, value in prop.amounts:
            if code == currency:
                return value
    return prop.value


# FieldType members as plain module constants: ``FieldType.STR`` is a slow metaclass lookup
_STR, _ID, _MONEY, _DEC = FieldType.STR, FieldType.ID, FieldType.MONEY, FieldType.DEC
# (field type, value type) pairs whose canonical form is the value itself
_AS_IS = frozenset({(FieldType.STR, str), (FieldType.BOOL, bool), (FieldType.INT, int)})
# integers this small are their own canonical money/decimal value (quantizing to <= 6 places
# keeps every digit within Decimal's 28-digit precision)
_EXACT_INT = 10**15

# A spec's work depends only on its shape: its keys (as written) and the types of its values.
# Per shape: the sorted field order, an empty output dict already sized and ordered for it (a
# copy is cheaper than growing a new dict key by key), and the fields whose value may need
# converting (with their type; also split into integer money/decimal fields and the rest);
# every other value is canonical as written and is copied as is.
_Work = tuple[tuple[Any, FieldType], ...]
_Plan = tuple[tuple[Any, ...], dict[Any, Any], _Work, tuple[Any, ...], _Work]
_PLANS: dict[tuple[Any, ...], tuple[KindSpec, _Plan]] = {}  # (kind, *keys, *value types) -> plan
_PLANS_MAX = 4096


def _plan(spec: KindSpec, values: Mapping[str, Any]) -> _Plan:
    """(sorted keys, fields to convert) for ``values``, memoised on its shape; the same TypeError
    as ``sorted`` for keys that cannot be ordered."""
    shape = (spec.kind, *values, *map(type, values.values()))  # one flat tuple: cheapest key
    entry = _PLANS.get(shape)
    if entry is None or entry[0] is not spec:
        order = tuple(sorted(values))
        types = spec.fields
        work = []
        for field in order:
            ftype = types.get(field)
            if ftype is None:  # unknown fields pass unchanged
                continue
            t = type(values[field])
            if t is type(None) or (ftype, t) in _AS_IS:  # None is None in every type
                continue
            work.append((field, ftype))
        # integer money/decimal fields: canonical as written unless huge (checked in one loop)
        ints = tuple(f for f, ftype in work if type(values[f]) is int and ftype in (_MONEY, _DEC))
        rest = tuple((f, ftype) for f, ftype in work if f not in ints)
        entry = (spec, (order, dict.fromkeys(order), tuple(work), ints, rest))
        if len(_PLANS) >= _PLANS_MAX:
            _PLANS.clear()
        _PLANS[shape] = entry
    return entry[1]


def normalize_spec(spec: KindSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical form of a desired spec; unknown fields and unresolved Refs pass unchanged.

    Raises ManifestError naming ``spec.<field>`` for a value that cannot be read.
    """
    zone = None
    if spec.zone_field and isinstance(values.get(spec.zone_field), str) and values[spec.zone_field]:
        zone = values[spec.zone_field]
    order, skeleton, work, ints, rest = _plan(spec, values)
    out: dict[str, Any] = skeleton.copy()
    for field in order:
        out[field] = values[field]
    for field in ints:
        if not -_EXACT_INT < out[field] < _EXACT_INT:
            break  # a huge one: convert everything in field order below
    else:
        work = rest  # every integer is canonical as it is
    for field, ftype in work:
        value = out[field]
        t = type(value)
        # still canonical as written (what canonical_value would return unchanged): no memo
        if t is str and ftype is _ID:
            out[field] = value.strip() if value else None
            continue
        if t is int and (ftype is _MONEY or ftype is _DEC) and -_EXACT_INT < value < _EXACT_INT:
            continue
        try:
            if t in _SCALARS:
                out[field] = _scalar_value(field, ftype, value, zone)
            else:
                out[field] = canonical_value(field, ftype, value, zone)
        except ValueProblem as exc:
            raise ManifestError(str(exc), path=f"spec.{field}") from exc
    return out


def history_value(spec: KindSpec, field: str, raw: str | None) -> Any:
    """A history old/new wire string in manifest vocabulary (unknown fields stay strings)."""
    ftype = spec.fields.get(field)
    if ftype is None or raw is None:
        return raw
    try:
        return canonical_value(field, ftype, raw, None)
    except ValueProblem:
        return raw


# -- writing ---------------------------------------------------------------------------------------
def form_value(field: str, ftype: FieldType | None, value: Any) -> str:
    """One manifest value encoded for a v2.0 form POST."""
    if value is None:
        return ""  # clears the field
    if ftype is FieldType.BOOL or isinstance(value, bool):
        flag = canonical_bool(value)
        return "1" if flag else "0"
    if ftype is FieldType.DATETIME:
        canonical = canonical_datetime(value)
        return wire_datetime(canonical) if canonical else ""
    if ftype in (FieldType.MONEY, FieldType.DEC) or isinstance(value, float):
        number = Decimal(str(value))
        text = format(number.normalize(), "f")
        return text
    return str(value)


def to_form(spec: KindSpec, values: Mapping[str, Any]) -> dict[str, str]:
    """Form fields for a create/update POST of canonical ``values`` (sorted for stable bodies)."""
    form: dict[str, str] = {}
    for field in sorted(values):
        value = values[field]
        if isinstance(value, Ref):
            raise ValueProblem(f"{field}: reference {value.target} was not resolved to an id")
        form[field] = form_value(field, spec.fields.get(field), value)
    return form
