"""Choosing resources: label selectors (Kubernetes style) and address patterns.

Labels are ``metadata.labels`` of a document: keys of letters, digits, ``-``, ``_``, ``.`` and an
optional ``prefix/``, values of the same characters (at most 63).

A selector (``-l``, and ``selector:`` of a ``Defaults``) is comma-separated requirements, all of
which must hold: ``key=value`` (or ``==``), ``key!=value``, ``key in (a,b)``, ``key notin (a,b)``,
``key`` (the label is set), ``!key`` (it is not).

An address pattern (``--target``) is an address, a glob over addresses
(``mediamath.Strategy/summer-*``), or either without its provider (``Strategy/s1``) when only one
provider has such a kind.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_REQUIREMENT = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[-A-Za-z0-9_.]*)|\s(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


class Op(StrEnum):
    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    NOT_EXISTS = "!exists"


@dataclass(frozen=True)
class Requirement:
    key: str
    op: Op
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        match self.op:
            case Op.EQUALS | Op.IN:
                return value is not None and value in self.values
            case Op.NOT_EQUALS | Op.NOT_IN:
                return value is None or value not in self.values
            case Op.EXISTS:
                return value is not None
            case _:
                return value is None


@dataclass(frozen=True)
class Selector:
    text: str
    requirements: tuple[Requirement, ...]

    @classmethod
    def parse(cls, text: str) -> Selector:
        """Raises ValueError naming the requirement that does not parse."""
        parts = _split(text)
        if not parts:
            raise ValueError("an empty selector matches everything: give at least one requirement")
        out = []
        for part in parts:
            m = _REQUIREMENT.match(part)
            if not m:
                raise ValueError(f"'{part.strip()}' is not a requirement (key=value, key!=value, key in (a,b), "
                                 "key notin (a,b), key or !key)")
            key = m["key"]
            if m["op"]:
                out.append(Requirement(key, Op.NOT_EQUALS if m["op"] == "!=" else Op.EQUALS, (m["value"],)))
            elif m["setop"]:
                values = tuple(v.strip() for v in m["values"].split(",") if v.strip())
                out.append(Requirement(key, Op.IN if m["setop"] == "in" else Op.NOT_IN, values))
            else:
                out.append(Requirement(key, Op.NOT_EXISTS if m["neg"] else Op.EXISTS))
            if m["neg"] and (m["op"] or m["setop"]):
                raise ValueError(f"'{part.strip()}': '!' goes only before a bare key (!key)")
        return cls(text, tuple(out))

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


def _split(text: str) -> list[str]:
    """Requirements separated by commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return [p for p in parts if p.strip()]


def label_problems(labels: object) -> list[tuple[str, str]]:
    """(path, message) for each label that is not a valid key/value pair."""
    if not isinstance(labels, Mapping):
        return [("metadata.labels", "labels must be a mapping of key: value")]
    out = []
    for key, value in labels.items():
        if not isinstance(key, str) or not LABEL_KEY.match(key):
            out.append((f"metadata.labels.{key}", f"'{key}' is not a label key (letters, digits, '-', '_', '.', "
                                                  "an optional prefix/; at most 63)"))
        elif not isinstance(value, str) or not LABEL_VALUE.match(value):
            out.append((f"metadata.labels.{key}", f"{value!r} is not a label value (a string of letters, digits, "
                                                  "'-', '_', '.'; at most 63; quote numbers)"))
    return out


def match_addresses(pattern: str, addresses: Iterable[str], kinds: Callable[[str], set[str]]) -> set[str]:
    """The addresses ``pattern`` names: exact, glob, or without its provider (``Strategy/s1``),
    which ``kinds(kind)`` (the providers having that kind) must make unambiguous. Raises
    ValueError for a pattern without provider whose kind several providers have."""
    known = list(addresses)
    if "." not in pattern.split("/", 1)[0]:
        kind = pattern.split("/", 1)[0]
        providers = kinds(kind)
        if len(providers) > 1:
            raise ValueError(f"'{pattern}' could be {' or '.join(f'{p}.{pattern}' for p in sorted(providers))}: "
                             "write the provider")
        if providers:
            pattern = f"{next(iter(providers))}.{pattern}"
    return {a for a in known if fnmatch.fnmatchcase(a, pattern)}
