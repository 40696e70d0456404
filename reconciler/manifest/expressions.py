"""Expressions inside ``${...}``: arithmetic, comparisons, conditionals, string functions and
access to the instance's values, evaluated by simpleeval (a safe evaluator: no Python ``eval``,
no attribute starting with ``_``, no imports, bounded powers and string sizes).

Names an expression may use:

- ``each.key``, ``each.value`` (a row, map entry or list item of ``for_each``; nested values by
  ``.name`` or ``["name"]``), ``each.index`` (its position, for messages only: not stable);
- ``var.NAME``: a workspace variable (``${var:NAME}`` still works);
- ``param.NAME``: a parameter of the group instance being expanded.

Functions: ``lower``, ``upper``, ``title``, ``strip``, ``replace(s, old, new)``,
``format(template, *args)`` (``str.format`` with positional fields only: ``{}``, ``{0}``, specs
such as ``{:.2f}``; no names, attributes or indexes, widths below 1000), ``slug(s)`` (a name fit for ``metadata.name``),
``join(sep, items)``, ``str``, ``int``, ``float``, ``round``, ``min``, ``max``, ``abs``, ``len``,
``default(value, fallback)`` (the fallback when ``value`` is None or empty).

Types are kept: a YAML value that is exactly one ``${...}`` takes the expression's type (a
number stays a number); inside a longer string the result is written as text. Values are
read-only: an expression cannot change a row. Text is never multiplied (``"12" * 2`` would be
``"1212"``: a CSV cell is text until ``int()``/``float()``), and whole numbers stay below 2**63. Errors are :class:`ExpressionError` with the
expression and the evaluator's reason; callers add the location.
"""

from __future__ import annotations

import ast
import functools
import re
import string
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from simpleeval import EvalWithCompoundTypes, FunctionNotDefined, InvalidExpression, NameNotDefined, safe_mult

from reconciler.manifest.schemacheck import did_you_mean

_SLUG = re.compile(r"[^a-z0-9]+")


class ExpressionError(ValueError):
    """An expression that does not parse or evaluate; the message names it."""


class Record(Mapping[str, Any]):
    """A read-only mapping whose keys are also attributes (``each.value.market``)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return wrap(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return wrap(self._data[name])
        except KeyError:
            known = ", ".join(sorted(map(str, self._data))) or "none"
            raise AttributeError(f"no '{name}' here (there is: {known})") from None

    def __repr__(self) -> str:
        return repr(dict(self._data))


def wrap(value: Any) -> Any:
    """Mappings as :class:`Record`, lists as tuples (read-only), scalars as they are."""
    t = type(value)
    if t in _SCALARS or t is Record:
        return value
    if t is dict or isinstance(value, Mapping):
        return Record(value)
    if t is list or t is tuple:
        return tuple(wrap(v) for v in value)
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """An expression's result as plain JSON-like data (Records and tuples back to dicts/lists)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def slug(text: Any) -> str:
    """``"Prospecting – US/CA"`` -> ``"prospecting-us-ca"``: letters, digits and '-'."""
    return _SLUG.sub("-", str(text).lower()).strip("-") or "x"


def _default(value: Any, fallback: Any) -> Any:
    return fallback if value is None or value == "" else value


_FORMATTER = string.Formatter()
_BIG_WIDTH = re.compile(r"\d{4,}")
TEXT_HINT = "text values such as CSV cells: convert with int(...) or float(...)"


def _format(template: Any, *args: Any) -> str:
    """``str.format`` with positional fields only: a field name may not reach attributes or
    items (``{0.__class__}`` would walk out of the sandbox), nor a width build a huge string."""
    text = str(template)
    for _literal, field, spec, _conversion in _FORMATTER.parse(text):
        if field is None:
            continue
        if field and not field.isdigit():
            raise ValueError(f"format: field '{{{field}}}' is not allowed (only {{}} or {{0}}, {{1}}...)")
        if spec and ("{" in spec or _BIG_WIDTH.search(spec)):
            raise ValueError(f"format: the spec '{spec}' is not allowed (no nested fields, widths below 1000)")
    return text.format(*args)


def _multiply(a: Any, b: Any) -> Any:
    if isinstance(a, str) or isinstance(b, str):
        raise TypeError(f"text is not multiplied ({TEXT_HINT})")
    return safe_mult(a, b)


FUNCTIONS: Mapping[str, Any] = {
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "title": lambda s: str(s).title(),
    "strip": lambda s: str(s).strip(),
    "replace": lambda s, old, new: str(s).replace(str(old), str(new)),
    "format": _format,
    "slug": slug,
    "join": lambda sep, items: str(sep).join(str(i) for i in items),
    "str": str,
    "int": int,
    "float": float,
    "round": round,
    "min": min,
    "max": max,
    "abs": abs,
    "len": len,
    "default": _default,
}


class _Evaluator(EvalWithCompoundTypes):  # type: ignore[misc]
    """simpleeval, where ``.name`` on a :class:`Record` is always a key (a CSV column may be
    called ``format``: simpleeval refuses that name as a method of anything else), and ``*``
    refuses text."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.operators[ast.Mult] = _multiply

    def _eval_attribute(self, node: Any) -> Any:
        if not node.attr.startswith("_"):
            target = self._eval(node.value)
            if isinstance(target, Record):
                return getattr(target, node.attr)
        return super()._eval_attribute(node)


_local = threading.local()


@functools.lru_cache(maxsize=4096)
def _parsed(expression: str) -> Any:
    """An expression's syntax tree, parsed once: a template's expressions repeat for every row."""
    return _Evaluator.parse(expression)


_DOTTED = re.compile(r"^\s*[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*\s*$")


def _lookup_dotted(expression: str, names: Mapping[str, Any]) -> Any:
    """``each.value.budget``: the common expression, looked up without the evaluator (raises
    LookupError when a part is missing: the evaluator then reports it)."""
    parts = expression.strip().split(".")
    value: Any = names[parts[0]]
    for part in parts[1:]:
        if not isinstance(value, Mapping):
            raise LookupError(part)
        value = value[part]
    return value


def evaluate(expression: str, names: Mapping[str, Any]) -> Any:
    """The value of ``expression`` with ``names`` (each, var, param...), as plain data."""
    if _DOTTED.match(expression):
        try:
            return plain(_lookup_dotted(expression, names))
        except LookupError:
            pass  # let the evaluator say what is missing
    evaluator = getattr(_local, "evaluator", None)
    if evaluator is None:  # one per thread, reused: building one costs more than most evaluations
        evaluator = _local.evaluator = _Evaluator(functions=dict(FUNCTIONS))
        _local.names = None
    if _local.names is not names:  # a document's expressions share its scope: wrapped once
        evaluator.names = {k: wrap(v) for k, v in names.items()}
        _local.names = names
    try:
        value = plain(evaluator.eval(expression, _parsed(expression)))
    except FunctionNotDefined as exc:
        hint = did_you_mean(exc.func_name, FUNCTIONS)
        raise ExpressionError(f"'${{{expression}}}': no function '{exc.func_name}'{hint} "
                              f"(functions: {', '.join(sorted(FUNCTIONS))})") from None
    except NameNotDefined as exc:
        known = ", ".join(sorted(names)) or "none here"
        only = {"each": "for_each", "param": "a group's documents"}.get(exc.name)
        where = f"'{exc.name}' exists only in {only}; " if only else ""
        raise ExpressionError(f"'${{{expression}}}': unknown name '{exc.name}' ({where}names: {known}; "
                              "${env:NAME} and ${var:name} read the environment and the workspace variables; "
                              "write '$${' for a literal '${')") from None
    except InvalidExpression as exc:
        raise ExpressionError(f"'${{{expression}}}': {exc}") from None
    except SyntaxError as exc:
        raise ExpressionError(f"'${{{expression}}}' is not an expression ({exc.msg})") from None
    except MemoryError:
        raise ExpressionError(f"'${{{expression}}}': the result would be too large") from None
    except (AttributeError, KeyError, IndexError, TypeError, ValueError, ZeroDivisionError, ArithmeticError) as exc:
        detail = str(exc) or type(exc).__name__
        if isinstance(exc, KeyError):
            detail = f"no key {exc}"
        if isinstance(exc, TypeError) and "str" in detail and TEXT_HINT not in detail:
            detail += f" ({TEXT_HINT})"
        raise ExpressionError(f"'${{{expression}}}': {detail}") from None
    # whole numbers past 2**63 are refused before anything prints them (Python refuses to print
    # one of more than 4300 digits at all)
    if type(value) is int and value.bit_length() > 63:
        raise ExpressionError(f"'${{{expression}}}': the number is too large (at most 2**63)")
    return value
