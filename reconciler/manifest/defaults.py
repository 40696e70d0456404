"""Defaults: values every document of a kind gets unless it sets them itself.

Declared in a manifest document or in ``reconciler.yaml`` (``defaults:``, a list of the same
``spec`` shapes)::

    apiVersion: reconciler/v1
    kind: Defaults
    metadata: {name: strategy-defaults}
    spec:
      kind: mediamath.Strategy          # provider.Kind
      selector: "market in (us,ca)"     # optional: only documents whose labels match
      values: {pacing_type: even, media_type: DISPLAY}

A default counts as written in the manifest (field ownership is unchanged: it is compared and
enforced like any written value). Top-level fields only; a document's own value always wins;
several matching defaults apply in order, the later winning (workspace ones first, then
documents in file order). Values are interpolated (``${var:}``, ``${env:}``, expressions) for each
document they fill, by the loader. ``drift --accept`` never writes into a field a default set: it names the
Defaults to change instead.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.errors import Location, ManifestError
from reconciler.manifest.schemacheck import did_you_mean
from reconciler.manifest.selectors import Selector
from reconciler.manifest.yamlsource import SourceDocument
from reconciler.model import Address

KIND = "Defaults"


@dataclass(frozen=True)
class Default:
    provider: str
    kind: str
    selector: Selector | None
    values: Mapping[str, Any]
    location: Location
    value_locations: Mapping[str, Location]  # where each of ``values`` is written
    kind_location: Location  # where ``kind`` is written

    def applies(self, address: Address, labels: Mapping[str, str]) -> bool:
        return (address.provider, address.kind) == (self.provider, self.kind) and (
            self.selector is None or self.selector.matches(labels)
        )


def parse(spec: Any, location: Location, locate: Any = None) -> Default:
    """One default from a ``spec`` mapping; ``locate(path)`` places errors (else ``location``)."""
    def where(path: str) -> Location:
        return locate(path) if locate is not None else location

    if not isinstance(spec, Mapping):
        raise ManifestError("a default needs kind and values", location=location, path="spec")
    kind = spec.get("kind")
    try:
        address = Address.parse(f"{kind}/x") if isinstance(kind, str) else None
    except ValueError:
        address = None
    if address is None:
        raise ManifestError(f"kind must be provider.Kind (e.g. mediamath.Strategy), not {kind!r}",
                            location=where("spec.kind"), path="spec.kind")
    values = spec.get("values")
    if not isinstance(values, Mapping) or not values:
        raise ManifestError("values must be a non-empty mapping of spec fields", location=where("spec.values"), path="spec.values")
    unknown = sorted(set(spec) - {"kind", "selector", "values"})
    if unknown:
        raise ManifestError(f"unknown setting '{unknown[0]}' (kind, selector, values)", location=where(f"spec.{unknown[0]}"),
                            path=f"spec.{unknown[0]}")
    selector = None
    if spec.get("selector") is not None:
        try:
            selector = Selector.parse(str(spec["selector"]))
        except ValueError as exc:
            raise ManifestError(str(exc), location=where("spec.selector"), path="spec.selector") from None
    return Default(address.provider, address.kind, selector, dict(values), location,
                   {str(k): where(f"spec.values.{k}") for k in values}, where("spec.kind"))


def from_document(doc: SourceDocument) -> Default:
    return parse(doc.value.get("spec"), doc.location(), doc.location)


def is_defaults(value: Any) -> bool:
    return isinstance(value, dict) and value.get("apiVersion") == "reconciler/v1" and value.get("kind") == KIND


def apply(
    defaults: Sequence[Default], address: Address, labels: Mapping[str, str], spec: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Default]]:
    """``spec`` with the values of every matching default it does not set; and, for each field
    filled, the default that filled it."""
    source: dict[str, Default] = {}
    for default in defaults:
        if default.applies(address, labels):
            source.update((k, default) for k in default.values if k not in spec)
    if not source:
        return dict(spec), source
    return {**{k: d.values[k] for k, d in source.items()}, **spec}, source


def check(defaults: Sequence[Default], kinds: Collection[tuple[str, str]], known: Mapping[str, Collection[str]],
          documents: Sequence[tuple[Address, Mapping[str, str]]]) -> tuple[list[ManifestError], list[str]]:
    """Problems of the defaults themselves, and warnings: a kind that is not one (``kinds``: the
    provider and kind of those that are; ``known``: every kind, for "did you mean"), and a default
    that applies to none of ``documents`` (address and labels of each). A value a default fills
    is checked in each document it fills, and a problem there is told at the default's line."""
    errors: list[ManifestError] = []
    warnings: list[str] = []
    for default in defaults:
        name = f"{default.provider}.{default.kind}"
        if (default.provider, default.kind) not in kinds:
            choices = [f"{p}.{k}" for p, ks in known.items() for k in ks]
            errors.append(ManifestError(f"no kind '{name}'{did_you_mean(name, choices)}", location=default.kind_location,
                                        path="kind"))
        elif not any(default.applies(address, labels) for address, labels in documents):
            which = f"its selector '{default.selector.text}' matches no {name}" if default.selector else f"there is no {name}"
            warnings.append(f"{default.location}: this default applies to nothing: {which}")
    return errors, warnings
