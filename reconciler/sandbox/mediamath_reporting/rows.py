"""The answer to one reporting query, produced lazily: grouping, rollup buckets, filters, order.

Rows are ``(group, bucket)`` pairs: a group is the set of entities sharing the requested
dimension values, a bucket one rollup period of the window. A row exists when at least one entity
of the group delivers during the bucket; its metrics are the sums of the entities' cumulative
counters over the bucket (see :mod:`.metrics`).

Memory stays proportional to the number of *entities*, never to the number of rows:

- filters on dimensions only (top-level ``filters`` items) select entities before grouping;
  the rest (metrics, ``agg_timestamp``, mixed ``or``) are checked row by row;
- ``order`` on dimensions and ``agg_timestamp`` is produced in order by sorting groups and
  choosing the loop nesting; only ordering by a *metric* sorts the rows themselves in memory
  (as a database would);
- the row count (for ``total_items_count`` and pages) comes from interval arithmetic when no
  row-level filter applies, else from a counting pass that keeps nothing.

Time zones (:func:`result_set`): a :class:`ResultSet` cuts days, weeks and months in one zone
(UTC, or the request's ``time_zone``); with ``time_zone: campaign`` the entities are split by
their campaign's ``zone_name`` and each part is cut in its own zone (:class:`Partitioned`: the
parts one after the other, or all rows sorted in memory when an order is requested, with
``agg_timestamp`` compared as instants).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, tzinfo
from typing import Any

from reconciler.sandbox.mediamath_reporting.entities import Entity, live_end
from reconciler.sandbox.mediamath_reporting.metrics import MetricPlan, plan_metrics
from reconciler.sandbox.mediamath_reporting.query import AGG, Filter, OrderKey, Query
from reconciler.sandbox.mediamath_reporting.windows import Bucket, WindowError, buckets, zone_of

Member = tuple[Entity, int, int]  # entity, first hour, hour after the last (within the window)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _comparable(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (0, float(value))
    if isinstance(value, list):
        return (2, ",".join(map(str, value)))
    return (1, str(value))


def sort_in_place(items: list[Any], order: Iterable[OrderKey], value_of: Callable[[Any, str], Any]) -> None:
    """Stable multi-key sort honouring ``desc`` and ``nulls_last`` (nulls first by default)."""
    for key in reversed(list(order)):
        nulls_first_ascending = key.nulls_last == key.desc

        def sort_key(item: Any, field: str = key.field, nfa: bool = nulls_first_ascending) -> tuple[Any, ...]:
            value = value_of(item, field)
            if value is None:
                return (0 if nfa else 2, (0, 0))
            return (1, _comparable(value))

        items.sort(key=sort_key, reverse=key.desc)


class Group:
    __slots__ = ("key", "members", "span_start", "span_end")

    def __init__(self, key: tuple[Any, ...], members: list[Member]) -> None:
        self.key = key
        self.members = members
        self.span_start = min(m[1] for m in members)
        self.span_end = max(m[2] for m in members)

    def dim(self, index: int) -> Any:
        return self.key[index]


class ResultSet:
    def __init__(self, query: Query, entities: Iterable[Entity], now: datetime, zone: tzinfo = UTC) -> None:
        self.query = query
        dims = query.dimensions
        self._dim_index = {name: i for i, name in enumerate(dims)}
        entity_filters: list[Filter] = []
        self.row_filters: list[Filter] = []
        metric_names = set(query.dataset.metrics)
        for f in query.filters:
            used = f.fields()
            if AGG in used or used & metric_names:
                self.row_filters.append(f)
            else:
                entity_filters.append(f)
        window = query.window_in(zone)
        members: dict[tuple[Any, ...], list[Member]] = {}
        first_values: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        for entity in entities:
            if entity_filters and not all(f.matches(entity.dim) for f in entity_filters):
                continue
            lower = window.start if window.start is not None else entity.clip_start(window.clip)
            start = max(entity.start, lower if lower is not None else entity.start)
            end = min(window.end, live_end(entity, now))
            if start >= end:
                continue
            values = tuple(entity.dim(d) for d in dims)
            key = tuple(_hashable(v) for v in values)
            members.setdefault(key, []).append((entity, start, end))
            first_values.setdefault(key, values)
        self.groups = [Group(first_values[k], v) for k, v in members.items()]
        sort_in_place(self.groups, [OrderKey(d) for d in dims], lambda g, f: g.dim(self._dim_index[f]))
        if self.groups:
            lo = window.start if window.start is not None else min(g.span_start for g in self.groups)
            hi = window.end
            self.buckets = buckets(query.rollup, lo, hi, zone)
        else:
            self.buckets = []
        self._starts = [b.start for b in self.buckets]
        self.plan: MetricPlan = plan_metrics(query.needed_metrics())
        self._metric_fields = set(query.needed_metrics())
        order_fields = {o.field for o in query.order}
        self.sorts_rows = bool(order_fields & metric_names)

    # -- counting -----------------------------------------------------------------------------------
    def count(self) -> int:
        if self.row_filters or self.sorts_rows:
            return sum(1 for _ in self.rows())
        return sum(self._group_bucket_count(g) for g in self.groups)

    def _bucket_range(self, start: int, end: int) -> tuple[int, int]:
        lo = max(0, bisect.bisect_right(self._starts, start) - 1)
        hi = bisect.bisect_left(self._starts, end)
        return lo, hi

    def _group_bucket_count(self, group: Group) -> int:
        intervals = sorted((m[1], m[2]) for m in group.members)
        merged: list[list[int]] = []
        for start, end in intervals:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        total, last_hi = 0, -1
        for start, end in merged:
            lo, hi = self._bucket_range(start, end)
            lo = max(lo, last_hi)
            if hi > lo:
                total += hi - lo
                last_hi = hi
        return total

    # -- rows ---------------------------------------------------------------------------------------
    def _row(self, group: Group, bucket: Bucket) -> dict[str, Any] | None:
        counters = self.plan.counters
        totals: dict[str, int] | None = None
        for entity, start, end in group.members:
            a = bucket.start if bucket.start > start else start
            b = bucket.end if bucket.end < end else end
            if a >= b:
                continue
            series = entity.series
            lo = series.cumulative(a - entity.start, counters)  # usually the previous bucket's end
            hi = series.cumulative(b - entity.start, counters)
            if totals is None:
                totals = {name: hi[name] - lo[name] for name in hi}
            else:
                for name in hi:
                    totals[name] += hi[name] - lo[name]
        if totals is None:
            return None
        metrics = {name: fn(totals) for name, fn in self.plan.finals}
        if self.row_filters:

            def get(name: str) -> Any:
                if name == AGG:
                    return bucket.label
                if name in metrics:
                    return metrics[name]
                index = self._dim_index.get(name)
                return group.dim(index) if index is not None else group.members[0][0].dim(name)

            if not all(f.matches(get) for f in self.row_filters):
                return None
        row: dict[str, Any] = {}
        for name in self.query.row_keys:
            if name == AGG:
                row[name] = bucket.label
            elif name in metrics:
                row[name] = metrics[name]
            else:
                row[name] = group.dim(self._dim_index[name])
        return row

    def _group_rows(self, group: Group, reverse: bool = False) -> Iterator[dict[str, Any]]:
        lo, hi = self._bucket_range(group.span_start, group.span_end)
        indexes = range(hi - 1, lo - 1, -1) if reverse else range(lo, hi)
        for i in indexes:
            row = self._row(group, self.buckets[i])
            if row is not None:
                yield row

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every row in the requested order."""
        order = self.query.order
        if self.sorts_rows:
            everything = list(self._natural())
            sort_in_place(everything, order, lambda row, f: row.get(f))
            yield from everything
            return
        if not order:
            yield from self._natural()
            return
        agg_at = next((i for i, o in enumerate(order) if o.field == AGG), None)
        dim_order = [o for o in order if o.field != AGG]
        groups = list(self.groups)
        sort_in_place(groups, dim_order, lambda g, f: g.dim(self._dim_index[f]))
        if agg_at is None:
            for group in groups:
                yield from self._group_rows(group)
            return
        agg = order[agg_at]
        prefix = [o.field for o in order[:agg_at]]
        blocks = (
            [groups]
            if not prefix
            else [list(b) for _, b in itertools.groupby(
                groups, key=lambda g: tuple(_hashable(g.dim(self._dim_index[f])) for f in prefix))]
        )
        for block in blocks:
            indexes = range(len(self.buckets) - 1, -1, -1) if agg.desc else range(len(self.buckets))
            for i in indexes:
                bucket = self.buckets[i]
                for group in block:
                    if group.span_start < bucket.end and bucket.start < group.span_end:
                        row = self._row(group, bucket)
                        if row is not None:
                            yield row

    def _natural(self) -> Iterator[dict[str, Any]]:
        for group in self.groups:
            yield from self._group_rows(group)


class Partitioned:
    """Rows of several :class:`ResultSet` parts (one per campaign time zone), as one answer."""

    def __init__(self, query: Query, parts: list[ResultSet]) -> None:
        self.query = query
        self.parts = parts

    def count(self) -> int:
        return sum(part.count() for part in self.parts)

    def rows(self) -> Iterator[dict[str, Any]]:
        if len(self.parts) == 1 or not self.query.order:
            for part in self.parts:
                yield from part.rows()
            return
        everything = [row for part in self.parts for row in part.rows()]
        sort_in_place(everything, self.query.order, lambda row, f: _instant(row.get(f)) if f == AGG else row.get(f))
        yield from everything


def _instant(label: Any) -> Any:
    return datetime.fromisoformat(label.replace("Z", "+00:00")).timestamp() if isinstance(label, str) else label


def _campaign_zone(entity: Entity) -> tzinfo:
    try:
        return zone_of(str(entity.dim("campaign_zone_name") or "UTC"))
    except WindowError:  # a campaign whose zone the sandbox does not know: UTC
        return UTC


def result_set(query: Query, entities: Iterable[Entity], now: datetime) -> ResultSet | Partitioned:
    """The answer to ``query``, its calendar in the requested time zone (see the module docstring)."""
    if query.time_zone == "campaign":
        by_zone: dict[str, tuple[tzinfo, list[Entity]]] = {}
        for entity in entities:
            zone = _campaign_zone(entity)
            by_zone.setdefault(str(zone), (zone, []))[1].append(entity)
        parts = [ResultSet(query, members, now, zone) for _, (zone, members) in sorted(by_zone.items())]
        return Partitioned(query, parts or [ResultSet(query, [], now)])
    return ResultSet(query, entities, now, zone_of(query.time_zone) if query.time_zone else UTC)
