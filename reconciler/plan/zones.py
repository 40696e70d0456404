"""Hand-written times of zoned kinds, read where apply reads them.

A MediaMath campaign reads a time without an offset (``2026-12-01T00:00:00``) in its
``zone_name``. A manifest may leave ``zone_name`` out (the campaign has one, made in the console
or imported): the provider then sends such times in the live campaign's zone, so plan
(:mod:`reconciler.plan.builder`) and drift (:meth:`reconciler.engine.Workspace.drift`) compare
them in that zone too, through :func:`in_live_zone`. Generic: any kind with a
``KindInfo.zone_field`` and ``datetime_fields``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler.model import LiveObject
from reconciler.providers.base import KindInfo


def in_live_zone(
    info: KindInfo, normalize: Callable[[str, Mapping[str, Any]], Mapping[str, Any]],
    spec: Mapping[str, Any], live: LiveObject | None,
) -> Mapping[str, Any]:
    """``spec`` with its date-times read in the live object's zone when the kind reads times in
    a zone field (``KindInfo.zone_field``) that the spec leaves out: what apply sends (the
    provider reads them in the live zone too). Plan and drift compare the result."""
    zone_field = info.zone_field
    if not zone_field or live is None or zone_field in spec or not live.fields.get(zone_field):
        return spec
    times = {k: v for k, v in spec.items() if k in info.datetime_fields and isinstance(v, str)}
    if not times:
        return spec
    zoned = normalize(info.name, {**times, zone_field: live.fields[zone_field]})
    return {**spec, **{k: zoned[k] for k in times if k in zoned}}
