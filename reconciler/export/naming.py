"""Human-friendly ``metadata.name``s for exported objects.

The slug of the object's name (``name``, ``title``, ``display_name``, ``email`` or a string part
of the natural key); for objects without one, the name of an object they point at (a clean-room
dataset is named after its data connection); an object whose natural key is its parent and a
date (a MediaMath budget flight: campaign + start) is named after its parent and that day
(``winter-sale-2026-2026-12-09``), one whose natural key is its parent alone (one per parent: a
MediaMath strategy's targeting) after its parent; else kind and short id. Within a kind, objects sharing a slug
are ordered by remote id: the first keeps it, the others get ``-<short id>``; addresses the
workspace already has are never reused. The result does not depend on input order.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.errors import ProviderError
from reconciler.export.scope import parent_kind, squash
from reconciler.model import LiveObject
from reconciler.providers.base import KindInfo, Provider

MAX_SLUG = 80


def slugify(text: str) -> str:
    """``Summer Sale – 2026!`` -> ``summer-sale-2026`` (ASCII letters, digits and ``-``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_SLUG].rstrip("-")


def kebab(kind: str) -> str:
    """``CleanroomQuestion`` -> ``cleanroom-question``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", kind).lower()


def _id_key(remote_id: str) -> tuple[int, str]:
    return (len(remote_id), remote_id)  # numeric ids in numeric order


LABEL_FIELDS = ("name", "title", "display_name", "email")


_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}.*)?$")


def label(fields: Mapping[str, Any], info: KindInfo | None = None) -> str:
    """The slug of an object's human name (``name``, ``title``, ``display_name``, ``email`` or a
    string part of its natural key that is not a date), or "" when it has none."""
    keys = (*LABEL_FIELDS, *(info.natural_key if info else ()))
    for key in keys:
        value = fields.get(key)
        if isinstance(value, str) and not key.endswith("_id") and not _DATE.match(value):
            slug = slugify(value)
            if slug:
                return slug
    return ""


def key_date(fields: Mapping[str, Any], info: KindInfo) -> str:
    """The day (``YYYY-MM-DD``) of the first date in the natural key (a flight's start), or ""."""
    for key in info.natural_key:
        value = fields.get(key)
        match = _DATE.match(value) if isinstance(value, str) else None
        if match:
            return match.group(1)
    return ""


def short_id(remote_id: str) -> str:
    """A short, readable form of a remote id for names (``06609327-a5e0-...:c62c16a9-...`` -> ``c62c16a9``)."""
    slug = slugify(remote_id.rsplit(":", 1)[-1]) or "x"
    return slug[:8] if len(slug) > 12 else slug


def kind_for_field(provider: Provider, field_name: str) -> str | None:
    """The kind an id field names (``data_connection_id`` -> ``DataConnection``), if any."""
    stem = squash(re.sub(r"_ids?$", "", field_name))
    bysquash = {squash(k): k for k in provider.kinds}
    if stem in bysquash:
        return bysquash[stem]
    loose = sorted((k for s, k in bysquash.items() if stem.endswith(s)), key=lambda k: (-len(k), k))
    return loose[0] if loose else None


def related_labels(provider: Provider, objects: Sequence[LiveObject]) -> dict[tuple[str, str], str]:
    """Names for objects that have none, from an object they point at (a dataset is named after
    its data connection, a clean-room question after its question). Reads the pointed-at objects
    that are not among ``objects`` (one batched read per kind); a failed read only loses names."""
    known = {(o.kind, o.remote_id): o for o in objects}
    choice: dict[tuple[str, str], tuple[str, str]] = {}
    dated: dict[tuple[str, str], str] = {}
    for obj in objects:
        info = provider.kinds[obj.kind]
        if label(obj.fields, info):
            continue
        day = key_date(obj.fields, info)
        parent = obj.fields.get(info.parent_field) if info.parent_field else None
        alone = info.parent_field is not None and info.natural_key == (info.parent_field,)  # one per parent
        if (day or alone) and isinstance(parent, (str, int)) and not isinstance(parent, bool):
            kind = parent_kind(provider, info)
            if kind is not None:
                choice[(obj.kind, obj.remote_id)] = (kind, str(parent))
                if day:
                    dated[(obj.kind, obj.remote_id)] = day
                continue
        for key in sorted(obj.fields):
            value = obj.fields[key]
            if key == info.parent_field or not key.endswith("_id") or isinstance(value, bool):
                continue
            target = kind_for_field(provider, key)
            if target is not None and isinstance(value, (str, int)):
                choice[(obj.kind, obj.remote_id)] = (target, str(value))
                break
    wanted: dict[str, set[str]] = {}
    for kind, remote_id in choice.values():
        if (kind, remote_id) not in known:
            wanted.setdefault(kind, set()).add(remote_id)
    fetched: dict[tuple[str, str], LiveObject] = dict(known)
    for kind, ids in sorted(wanted.items()):
        try:
            got = provider.read(kind, sorted(ids))
        except ProviderError:
            continue
        fetched.update({(kind, rid): live for rid, live in got.items()})
    out: dict[tuple[str, str], str] = {}
    for which, pointed in choice.items():
        other = fetched.get(pointed)
        text = label(other.fields, provider.kinds.get(other.kind)) if other is not None else ""
        if text:
            out[which] = f"{text[: MAX_SLUG - 11].rstrip('-')}-{dated[which]}" if which in dated else text
    return out


def _base_name(obj: LiveObject, info: KindInfo, related: Mapping[tuple[str, str], str]) -> str:
    day = key_date(obj.fields, info)
    return (
        label(obj.fields, info)
        or related.get((obj.kind, obj.remote_id), "")
        or (f"{kebab(obj.kind)}-{day}" if day else f"{kebab(obj.kind)}-{short_id(obj.remote_id)}")
    )


def assign_names(
    objects: Sequence[LiveObject],
    kinds: Mapping[str, KindInfo],
    taken: Mapping[str, set[str]],
    related: Mapping[tuple[str, str], str] | None = None,
) -> dict[tuple[str, str], str]:
    """``metadata.name`` per (kind, remote id): slugs, de-duplicated per kind, avoiding ``taken``.

    Within a kind, objects sharing a slug are sorted by remote id: the first keeps the slug, the
    others get ``-<short id>`` (then ``-2``, ``-3``... should that be taken too)."""
    out: dict[tuple[str, str], str] = {}
    by_kind: dict[str, dict[str, list[LiveObject]]] = {}
    for obj in objects:
        by_kind.setdefault(obj.kind, {}).setdefault(
            _base_name(obj, kinds[obj.kind], related or {}), []
        ).append(obj)
    for kind, groups in sorted(by_kind.items()):
        used = set(taken.get(kind, set()))
        for base, group in sorted(groups.items()):
            for index, obj in enumerate(sorted(group, key=lambda o: _id_key(o.remote_id))):
                suffix = short_id(obj.remote_id)
                name = base if index == 0 and base not in used else f"{base}-{suffix}"
                counter = 2
                while name in used:
                    name = f"{base}-{suffix}-{counter}"
                    counter += 1
                used.add(name)
                out[(kind, obj.remote_id)] = name
    return out
