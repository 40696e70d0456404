"""``diff.matches`` (the plan's fast path) answers exactly ``project(live, template) == template``.

Random templates and live values: nested mappings, lists, Refs, numbers that compare equal across
types (``1``, ``1.0``, ``True``), a NaN that is the same object on both sides, missing keys, ``None``
for a written key the live object lacks, live values of another shape than the template's.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from reconciler.diff import FieldDiffer, compare_owned, matches, project
from reconciler.model import Address, Ref

NAN = float("nan")
REF = Ref(Address("mediamath", "Campaign", "c"))
LEAVES: list[Any] = [None, 0, 1, 1.0, True, False, "a", "b", "", NAN, REF, [1, 2], [1, {"x": 1}], ()]


def _value(rng: random.Random, depth: int) -> Any:
    if depth < 3 and rng.random() < 0.3:
        return {rng.choice("pqrs"): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return rng.choice(LEAVES)


def _live_like(rng: random.Random, template: Any) -> Any:
    """Mostly a copy of ``template`` (values equal but maybe of another type), sometimes changed."""
    roll = rng.random()
    if isinstance(template, dict):
        if roll < 0.05:
            return rng.choice(LEAVES)  # another shape than the template's
        out = {k: _live_like(rng, v) for k, v in template.items() if rng.random() > 0.05}
        if rng.random() < 0.3:
            out[rng.choice("pqrsz")] = rng.choice(LEAVES)  # a key the manifest never wrote
        return out
    if roll < 0.1:
        return rng.choice(LEAVES)
    if roll < 0.2 and type(template) in (int, bool):
        return float(template)  # 1 == 1.0 == True
    return template


@pytest.mark.parametrize("seed", range(5))
def test_matches_is_project_then_compare(seed: int) -> None:
    rng = random.Random(seed)
    agree = {True: 0, False: 0}
    for _ in range(4000):
        template = {k: _value(rng, 1) for k in rng.sample("abcdefgh", rng.randint(0, 6))}
        live = _live_like(rng, template)
        expected = project(live, template) == template
        assert matches(live, template) is expected, (live, template)
        agree[expected] += 1
        projected, diffs = compare_owned(template, live, FieldDiffer()) if isinstance(live, dict) else (None, ())
        if isinstance(live, dict):
            assert projected == project(live, template) and (not diffs) is expected
    assert agree[True] > 500 and agree[False] > 500  # both answers were exercised
