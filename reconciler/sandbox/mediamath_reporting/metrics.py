"""Synthetic but deterministic delivery: how much each sandbox entity spends, hour by hour.

An *entity* is a strategy (or a campaign without strategies). It delivers between its start and
``min(end, now)``; its spend is a cumulative function of the hours elapsed since it started,

    S(k) = R*k + R/2 * (u(k) - u(0)),   u(k) = hash(entity, hour) in [0, 1)

so every hour spends between R/2 and 3R/2 (seeded by entity id and hour), capped at the
entity's budget. ``R`` spreads ``pace * budget`` over the flight (pace 0.80..1.05, so some
entities reach their budget early and then stop). A strategy's budget is
``min(strategy.budget, campaign.total_budget * share)`` where the shares of a campaign's
strategies sum to 1, so a campaign never spends more than its ``total_budget`` either.

Every other metric is a cumulative counter derived from spend (impressions from a per-entity
CPM, clicks from impressions, conversions from clicks...) and ratios (ctr, cpm, cpa...) are
computed from the aggregated counters. Counters are rounded *cumulatively*, so the value for any
window ``[a, b)`` is ``F(b) - F(a)``: hourly rows add up exactly to daily, weekly and ``all``.

Spend to date never goes down: a budget cut (MediaMath's history names it) keeps the pace of the
highest budget the entity had and caps it at ``max(new budget, what it had spent when cut)``, as
a real strategy stops delivering but keeps what it spent (see ``Series.cap``).

A spend override (control endpoint) multiplies an entity's spend by a factor chosen so that its
spend to date equals the requested amount to the cent, and freezes delivery from then on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_MASK = (1 << 64) - 1
_SPEND_METRICS = re.compile(r"(spend|revenue|cost|amount)")


def mix(value: int) -> int:
    """splitmix64 finaliser: a fast, well-spread 64-bit hash of an integer."""
    z = (value + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def unit(value: int) -> float:
    return mix(value) / 18446744073709551616.0


def name_seed(text: str) -> int:
    """Stable integer of a string (Python's ``hash`` is salted per process)."""
    h = 1469598103934665603
    for byte in text.encode():
        h = ((h ^ byte) * 1099511628211) & _MASK
    return h


def between(seed: int, salt: str, lo: float, hi: float) -> float:
    return lo + (hi - lo) * unit(seed ^ name_seed(salt))


# --- counters ---------------------------------------------------------------------------------
# name -> (base counter, factor range); "spend" is the root (in cents). Money counters are cents.
COUNTERS: dict[str, tuple[str, float, float]] = {
    "impressions": ("spend", 0.0, 0.0),  # special: from CPM
    "clicks": ("impressions", 0.0008, 0.004),
    "general_invalid_clicks": ("clicks", 0.01, 0.05),
    "post_click_conversions": ("clicks", 0.02, 0.08),
    "post_view_conversions": ("impressions", 0.00005, 0.0002),
    "measurable": ("impressions", 0.75, 0.95),
    "in_view": ("measurable", 0.45, 0.8),
    "in_view_100_percent": ("in_view", 0.5, 0.9),
    "in_view_5_seconds": ("in_view", 0.3, 0.7),
    "in_view_15_seconds": ("in_view_5_seconds", 0.3, 0.7),
    "in_view_q1": ("in_view", 0.8, 0.95),
    "in_view_q2": ("in_view_q1", 0.8, 0.95),
    "in_view_q3": ("in_view_q2", 0.8, 0.95),
    "in_view_q4": ("in_view_q3", 0.8, 0.95),
    "uniques": ("impressions", 0.3, 0.7),
    "calculated_impressions": ("impressions", 1.0, 1.0),
    "watermark_impressions": ("impressions", 0.05, 0.2),
    "non_watermark_impressions": ("impressions", 0.8, 0.95),
    "video_start": ("impressions", 0.05, 0.3),
    "video_first_quartile": ("video_start", 0.7, 0.9),
    "video_midpoint": ("video_first_quartile", 0.7, 0.9),
    "video_third_quartile": ("video_midpoint", 0.7, 0.9),
    "video_complete": ("video_third_quartile", 0.7, 0.9),
    "video_skippable_impressions": ("video_start", 0.3, 0.6),
    "video_skipped_impressions": ("video_skippable_impressions", 0.2, 0.5),
    "video_engaged_impressions": ("video_start", 0.05, 0.2),
    "bids": ("impressions", 1.5, 4.0),
    "matched_bid_opportunities": ("bids", 2.0, 5.0),
    "pacing_matched_bid_opportunities": ("matched_bid_opportunities", 0.5, 0.9),
    "biddables": ("bids", 2.0, 5.0),
    "matches": ("biddables", 0.6, 0.9),
    "loads": ("impressions", 0.01, 0.1),
    # money (cents)
    "post_click_revenue": ("post_click_conversions", 2000.0, 9000.0),
    "post_view_revenue": ("post_view_conversions", 2000.0, 9000.0),
    "total_bid_amount_cpm": ("spend", 1.2, 2.5),
    "total_win_amount_cpm": ("spend", 0.9, 1.0),
    "media_cost_watermark_usd": ("spend", 0.02, 0.1),
    "media_cost_non_watermark_usd": ("spend", 0.5, 0.8),
}
# name -> parts summed
SUMS: dict[str, tuple[str, ...]] = {
    "total_clicks": ("clicks", "general_invalid_clicks"),
    "total_conversions": ("post_click_conversions", "post_view_conversions"),
    "total_revenue": ("post_click_revenue", "post_view_revenue"),
    "wins": ("impressions",),
}
# name -> (numerator, denominator, multiplier, decimals)
RATIOS: dict[str, tuple[str, str, float, int]] = {
    "ctr": ("clicks", "impressions", 1.0, 6),
    "ctc": ("post_click_conversions", "clicks", 1.0, 6),
    "rr_per_1k_imps": ("total_conversions", "impressions", 1000.0, 6),
    "total_spend_cpm": ("total_spend", "impressions", 1000.0, 4),
    "total_spend_cpc": ("total_spend", "clicks", 1.0, 4),
    "total_spend_cpa": ("total_spend", "total_conversions", 1.0, 4),
    "total_spend_pc_cpa": ("total_spend", "post_click_conversions", 1.0, 4),
    "total_spend_pv_cpa": ("total_spend", "post_view_conversions", 1.0, 4),
    "total_spend_cpcv": ("total_spend", "video_complete", 1.0, 4),
    "total_spend_vcpm": ("total_spend", "in_view", 1000.0, 4),
    "total_spend_roi": ("total_revenue", "total_spend", 1.0, 6),
    "post_click_total_spend_roi": ("post_click_revenue", "total_spend", 1.0, 6),
    "post_view_total_spend_roi": ("post_view_revenue", "total_spend", 1.0, 6),
    "total_aov": ("total_revenue", "total_conversions", 1.0, 4),
    "post_click_aov": ("post_click_revenue", "post_click_conversions", 1.0, 4),
    "post_view_aov": ("post_view_revenue", "post_view_conversions", 1.0, 4),
    "viewability_rate": ("in_view", "measurable", 1.0, 6),
    "viewability_rate_100_percent": ("in_view_100_percent", "measurable", 1.0, 6),
    "measurability_rate": ("measurable", "impressions", 1.0, 6),
    "in_view_5_seconds_rate": ("in_view_5_seconds", "in_view", 1.0, 6),
    "in_view_15_seconds_rate": ("in_view_15_seconds", "in_view", 1.0, 6),
    "video_play_rate": ("video_start", "impressions", 1.0, 6),
    "video_complete_rate": ("video_complete", "video_start", 1.0, 6),
    "video_first_quartile_rate": ("video_first_quartile", "video_start", 1.0, 6),
    "video_midpoint_rate": ("video_midpoint", "video_start", 1.0, 6),
    "video_third_quartile_rate": ("video_third_quartile", "video_start", 1.0, 6),
    "video_complete_rate_impression_based": ("video_complete", "impressions", 1.0, 6),
    "video_first_quartile_rate_impression_based": ("video_first_quartile", "impressions", 1.0, 6),
    "video_midpoint_rate_impression_based": ("video_midpoint", "impressions", 1.0, 6),
    "video_third_quartile_rate_impression_based": ("video_third_quartile", "impressions", 1.0, 6),
    "video_engaged_rate": ("video_engaged_impressions", "video_start", 1.0, 6),
    "video_skipped_rate": ("video_skipped_impressions", "video_skippable_impressions", 1.0, 6),
    "video_companion_ctr": ("video_companion_clicks", "video_companion_impressions", 1.0, 6),
    "bid_rate": ("bids", "matched_bid_opportunities", 1.0, 6),
    "win_rate": ("wins", "bids", 1.0, 6),
    "average_bid_amount_cpm": ("total_bid_amount_cpm", "bids", 1000.0, 4),
    "average_win_amount_cpm": ("total_win_amount_cpm", "wins", 1000.0, 4),
}
_RATE_WORDS = re.compile(r"(rate|ctr|ctc|roi|aov|cpm|cpc|cpa|cpcv|average|min_|max_|frequency)")


def is_money(name: str) -> bool:
    return name == "spend" or bool(_SPEND_METRICS.search(name))


def _usd_base(name: str) -> str:
    return name[: -len("_usd")] if name.endswith("_usd") and not name.startswith("media_cost") else name


@dataclass(frozen=True)
class MetricPlan:
    """How to compute the requested metrics: counters (in order) and final value functions."""

    counters: tuple[str, ...]  # cumulative counters needed, dependencies first
    finals: tuple[tuple[str, Callable[[dict[str, int]], Any]], ...]


def plan_metrics(names: set[str]) -> MetricPlan:
    order: list[str] = []

    def need(counter: str) -> None:
        if counter in order:
            return
        if counter == "spend":
            pass
        elif counter in SUMS:
            for part in SUMS[counter]:
                need(part)
        elif counter in COUNTERS:
            need(COUNTERS[counter][0])
        else:  # generic counter: derived from impressions (money ones from spend)
            need("spend" if is_money(counter) else "impressions")
        order.append(counter)

    finals: list[tuple[str, Callable[[dict[str, int]], Any]]] = []
    for name in sorted(names):
        finals.append((name, _final(name, need)))
    return MetricPlan(tuple(order), tuple(finals))


def _final(name: str, need: Callable[[str], None]) -> Callable[[dict[str, int]], Any]:
    base = _usd_base(name)
    if base == "total_spend":
        need("spend")
        return lambda v: round(v["spend"] / 100.0, 2)
    if base in RATIOS or (_RATE_WORDS.search(base) and base not in COUNTERS and base not in SUMS):
        num, den, mult, places = RATIOS.get(base, (base + "~num", "impressions", 1.0, 6))
        num_key, den_key = _counter_key(num), _counter_key(den)
        need(num_key)
        need(den_key)
        num_scale = 0.01 if is_money(num_key) else 1.0
        den_scale = 0.01 if is_money(den_key) else 1.0

        def ratio(v: dict[str, int]) -> Any:
            d = v[den_key] * den_scale
            if not d:
                return None
            return round(v[num_key] * num_scale * mult / d, places)

        return ratio
    need(base)
    if is_money(base):
        return lambda v: round(v[base] / 100.0, 2)
    return lambda v: v[base]


def _counter_key(name: str) -> str:
    return "spend" if name == "total_spend" else name


@dataclass
class Series:
    """One entity's delivery: cumulative counters as functions of elapsed hours ``k``."""

    seed: int
    start: int  # first hour (index)
    end: int  # hour after the last planned hour (flight end)
    budget: float  # cap on cumulative spend (campaign currency)
    scale: float = 1.0  # spend override factor
    freeze: int | None = None  # elapsed hours after which delivery stops (override)
    cap: float | None = None  # a later, lower cap than ``budget`` (a budget cut); ``budget`` sets the pace

    def __post_init__(self) -> None:
        hours = max(1, self.end - self.start)
        pace = between(self.seed, "pace", 0.80, 1.05)
        self.rate = self.budget * pace / hours
        self.u0 = unit(self.seed ^ self.start)
        self.cpm = between(self.seed, "cpm", 1.5, 6.0)
        self._factors: dict[str, float] = {}
        self._last: tuple[int, tuple[str, ...], dict[str, int]] | None = None  # consecutive buckets share ends

    def spend(self, k: int) -> float:
        """Capped natural spend after ``k`` elapsed hours (before any override)."""
        if k <= 0:
            return 0.0
        k = min(k, self.end - self.start)
        value = self.rate * k + 0.5 * self.rate * (unit(self.seed ^ (self.start + k)) - self.u0)
        return min(value, self.budget if self.cap is None else min(self.budget, self.cap))

    def factor(self, counter: str) -> float:
        f = self._factors.get(counter)
        if f is None:
            lo, hi = COUNTERS.get(counter, ("", 0.001, 0.3))[1:]
            if counter not in COUNTERS and is_money(counter):
                lo, hi = 0.05, 0.5
            f = self._factors[counter] = between(self.seed, counter, lo, hi)
        return f

    def cumulative(self, k: int, counters: tuple[str, ...]) -> dict[str, int]:
        last = self._last
        if last is not None and last[0] == k and last[1] is counters:
            return last[2]
        asked = k
        if self.freeze is not None:
            k = min(k, self.freeze)
        spend = self.spend(k) * self.scale
        values: dict[str, int] = {"spend": round(spend * 100.0)}
        for name in counters:
            if name == "spend":
                continue
            if name == "impressions":
                values[name] = round(spend * 1000.0 / self.cpm)
            elif name in SUMS:
                values[name] = sum(values[p] for p in SUMS[name])
            else:
                base = COUNTERS[name][0] if name in COUNTERS else ("spend" if is_money(name) else "impressions")
                values[name] = round(values[base] * self.factor(name))
        self._last = (asked, counters, values)
        return values
