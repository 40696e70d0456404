"""The dependency graph over DesiredResource values (built directly: no YAML involved).

Covers: topological order (dependencies first, ties by address) identical for every input
permutation, refs outside the set ignored, ref_fields paths, cycles of 1, 2 and 3 with the
canonical path and file:line of each hop (also when non-cycle resources hang off the cycle),
dependents (transitive, excluding itself), with_dependencies (closure, order, unknown targets).
"""

from __future__ import annotations

import itertools
import random

import pytest

from reconciler.errors import CycleError, Location
from reconciler.graph import dependents, order, ref_fields, with_dependencies
from reconciler.model import Address, DesiredResource, Ref


def addr(name: str, kind: str = "Campaign") -> Address:
    return Address("mediamath", kind, name)


def res(name: str, *deps: str, line: int = 1) -> DesiredResource:
    spec = {"name": name, "deps": [Ref(addr(d)) for d in deps]}
    lines = {f"spec.deps.{i}": line + i for i in range(len(deps))}
    return DesiredResource(addr(name), spec, Location(f"{name}.yaml", line), field_lines=lines)


def names(resources) -> list[str]:
    return [r.address.name for r in resources]


# a diamond plus a chain and an island:   d -> b -> a,  d -> c -> a,  e -> d,  z alone
WORLD = [res("a"), res("b", "a"), res("c", "a"), res("d", "c", "b"), res("e", "d"), res("z")]


def test_order_dependencies_first_ties_by_address() -> None:
    assert names(order(WORLD)) == ["a", "b", "c", "d", "e", "z"]
    chain = [res("x", "y"), res("y", "z2"), res("z2")]
    assert names(order(chain)) == ["z2", "y", "x"]


def test_order_is_independent_of_input_order() -> None:
    expected = names(order(WORLD))
    for permutation in itertools.permutations(WORLD):
        assert names(order(list(permutation))) == expected


def test_refs_to_addresses_outside_the_set_are_ignored() -> None:
    assert names(order([res("b", "outside"), res("a")])) == ["a", "b"]


def test_ref_fields_paths() -> None:
    spec = {"a": Ref(addr("x")), "l": [1, {"m": Ref(addr("y"))}], "t": (Ref(addr("z")),)}
    assert [(p, str(r.target)) for p, r in ref_fields(spec)] == [
        ("spec.a", "mediamath.Campaign/x"),
        ("spec.l.1.m", "mediamath.Campaign/y"),
        ("spec.t.0", "mediamath.Campaign/z"),
    ]


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (
            [res("a", "a", line=4)],
            "a.yaml:4: spec.deps.0: dependency cycle: mediamath.Campaign/a -> mediamath.Campaign/a",
        ),
        (
            [res("b", "a", line=7), res("a", "b", line=3)],
            "a.yaml:3: spec.deps.0: dependency cycle: mediamath.Campaign/a -> mediamath.Campaign/b -> "
            "mediamath.Campaign/a (mediamath.Campaign/a spec.deps.0 at a.yaml:3; "
            "mediamath.Campaign/b spec.deps.0 at b.yaml:7)",
        ),
        (
            # c -> a -> b -> c, plus resources that depend on the cycle or stand apart
            [
                res("q", "c"),
                res("c", "q2", "a", line=9),
                res("b", "c", line=5),
                res("a", "b", line=2),
                res("q2"),
            ],
            "a.yaml:2: spec.deps.0: dependency cycle: mediamath.Campaign/a -> mediamath.Campaign/b -> "
            "mediamath.Campaign/c -> mediamath.Campaign/a (mediamath.Campaign/a spec.deps.0 at a.yaml:2; "
            "mediamath.Campaign/b spec.deps.0 at b.yaml:5; mediamath.Campaign/c spec.deps.1 at c.yaml:10)",
        ),
    ],
    ids=["cycle-of-1", "cycle-of-2", "cycle-of-3"],
)
def test_cycles(resources, expected: str) -> None:
    for seed in range(3):  # the same error whatever the input order
        shuffled = list(resources)
        random.Random(seed).shuffle(shuffled)
        with pytest.raises(CycleError) as caught:
            order(shuffled)
        assert str(caught.value).startswith(expected), str(caught.value)
        assert caught.value.path.startswith("spec.deps.")


def test_dependents_are_transitive() -> None:
    assert dependents(WORLD, addr("a")) == {addr("b"), addr("c"), addr("d"), addr("e")}
    assert dependents(WORLD, addr("c")) == {addr("d"), addr("e")}
    assert dependents(WORLD, addr("e")) == set()
    assert dependents(WORLD, addr("z")) == set()
    assert dependents(WORLD, addr("missing")) == set()


def test_with_dependencies() -> None:
    assert names(with_dependencies(WORLD, [addr("d")])) == ["a", "b", "c", "d"]
    assert names(with_dependencies(WORLD, [addr("z"), addr("b")])) == ["a", "b", "z"]
    assert names(with_dependencies(WORLD, [addr("e")])) == ["a", "b", "c", "d", "e"]
    assert with_dependencies(WORLD, [addr("gone")]) == []
