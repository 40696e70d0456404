"""API errors pointed back at the manifest: which document, which line, which field.

A vendor refuses a write in its own words and field names (``datasetFieldMappings[0]: unknown
field 'nope'``, ``start_date: overlaps budget flight 2000003``). After apply, each failed change
is given the place it came from: ``file:line`` of its document and, for every field the message
names, the manifest's name for it (``KindInfo.vendor_fields`` for names the API spells
differently, camelCase read as snake_case, and manifest names as they are) with its own line.
The vendor's message and status are kept as they were.

Pure: it reads the loaded manifests and the kinds, never the API.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping

from reconciler.apply.result import ApplyResult, Outcome, ResourceResult
from reconciler.model import DesiredResource
from reconciler.providers.base import KindInfo

# words of a message; a field-like one has an underscore or an inner capital, or is followed by
# ':' / '[' / '.' (plain English words are not taken for fields, unless a kind lists them)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def point_home(
    result: ApplyResult, desired: Mapping[str, DesiredResource], kind_info: Callable[[str, str], KindInfo | None]
) -> ApplyResult:
    """``result`` with each failed change's message prefixed by where its document is and which
    manifest fields the vendor's message names (changes without a document are left alone)."""
    out: list[ResourceResult] = []
    for r in result.results:
        resource = desired.get(r.address)
        if r.outcome is not Outcome.FAILED or resource is None:
            out.append(r)
            continue
        info = kind_info(resource.address.provider, resource.address.kind)
        places = [f"{resource.location_of(f'spec.{f}')}: spec.{f}" for f in named_fields(r.message, resource, info)]
        where = "; ".join(places) if places else str(resource.location)
        out.append(dataclasses.replace(r, message=f"{where}: {r.message}"))
    return dataclasses.replace(result, results=tuple(out))


def named_fields(message: str, resource: DesiredResource, info: KindInfo | None) -> list[str]:
    """The manifest fields a vendor message names, in the order it names them."""
    fields = set(resource.spec)
    vendor = info.vendor_fields if info is not None else {}
    found: list[str] = []
    for m in _WORD.finditer(message):
        word = m.group(0)
        following = message[m.end() : m.end() + 1]
        field_like = "_" in word or any(c.isupper() for c in word[1:]) or following in (":", "[", ".")
        if not field_like and word not in vendor:
            continue
        name = vendor.get(word) or (word if word in fields else _CAMEL.sub(r"_\1", word).lower())
        if name in fields and name not in found:
            found.append(name)
    return found
