"""The compiled "is it valid?" checks (reconciler.manifest.fastcheck) change no outcome.

Aspects covered:
- every packaged schema (the envelope and each provider kind) gets a compiled check, and the
  example manifests pass it (so loading takes the fast path);
- differential: thousands of mutated specs and envelopes (wrong types, booleans for numbers,
  missing and unknown fields, references and placeholder look-alikes anywhere) give the same
  result and the same message with and without the compiled check; the compiled check never
  accepts what jsonschema rejects;
- the reference rule: a reference under an ``anyOf`` branch at an enclosing position, or where a
  boolean or an enum value is wanted, is still reported; a literal "${ref:..." string is still
  checked as the string it is;
- schemas the compiled check cannot mirror (2020-12-only keywords, $ref siblings, recursion)
  either get no compiled check or are mirrored exactly.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import InputError
from reconciler.manifest import fastcheck, schemacheck, validate
from reconciler.manifest.yamlsource import SourceDocument, load_documents, read_text
from reconciler.model import Address, Ref
from reconciler.providers import BUILTIN, provider_class
from reconciler.providers.base import KindInfo, load_schema

REPO = Path(__file__).resolve().parents[2]
KINDS = {provider: provider_class(provider).kinds for provider in sorted(BUILTIN)}
KIND_NAMES = sorted(f"{provider}.{kind}" for provider, kinds in KINDS.items() for kind in kinds)
REF = Ref(Address("mediamath", "Campaign", "c1"))
REPLACEMENTS: list[Any] = [
    None, True, False, 0, 1, -1, 2.5, 10**12, "", "x", "2024-13-45", "a@b.c", "${ref:mediamath.Campaign/x}",
    REF, [], [REF], ["x", "x"], {}, {"unknown": 1},
]


def outcome(fn: Any, *args: Any, **kwargs: Any) -> str | None:
    try:
        fn(*args, **kwargs)
    except InputError as exc:
        return str(exc)
    return None


def example_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((REPO / "examples").glob("*/*.yaml")):
        if path.name == "reconciler.yaml":
            continue
        for doc in load_documents(read_text(path, path.name), path.name):
            value = doc.value if doc is not None else None
            # Group/Use/Defaults documents have schemas of their own, and a for_each template's
            # spec is checked once per instance, after expansion.
            if (isinstance(value, dict) and "spec" in value and "for_each" not in value
                    and not str(value.get("apiVersion", "")).startswith("reconciler/")):
                yield path.name, value


def kind_info(api_version: str, kind: str) -> KindInfo | None:
    return KINDS.get(api_version.partition("/")[0], {}).get(kind)


def mutations(value: Any, rng: random.Random, budget: int) -> Iterator[Any]:
    """Copies of ``value`` with one leaf replaced, one key dropped or one key added."""
    paths: list[tuple[Any, ...]] = []

    def walk(item: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(item, dict):
            for k, v in item.items():
                walk(v, (*path, k))
        elif isinstance(item, list):
            for i, v in enumerate(item):
                walk(v, (*path, i))

    walk(value, ())
    for _ in range(budget):
        path = rng.choice(paths)
        mutated = copy.deepcopy(value)
        parent: Any = mutated
        for part in path[:-1]:
            parent = parent[part]
        action = rng.random()
        if not path:
            yield rng.choice(REPLACEMENTS)
            continue
        if action < 0.1 and isinstance(parent, dict):
            del parent[path[-1]]
        elif action < 0.2 and isinstance(parent, dict):
            parent[f"extra_{rng.randint(0, 9)}"] = rng.choice(REPLACEMENTS)
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(REPLACEMENTS))
        yield mutated


def doc_of(value: Any) -> SourceDocument:
    return SourceDocument("m.yaml", 1, value, {})


def test_the_envelope_schema_is_compiled() -> None:
    assert fastcheck.compiled(load_schema("manifest.schema.json")) is not None


@pytest.mark.parametrize("name", KIND_NAMES)
def test_every_kind_schema_is_compiled(name: str) -> None:
    provider, _, kind = name.partition(".")
    schema = KINDS[provider][kind].schema
    assert fastcheck.compiled(schema) is not None
    assert fastcheck.compiled(schema, placeholders=True) is not None


def test_examples_pass_the_compiled_checks() -> None:
    envelope = fastcheck.compiled(schemacheck.packaged_validator("manifest.schema.json").schema)
    assert envelope is not None
    checked = 0
    for _, value in example_documents():
        assert envelope(value), value
        info = kind_info(value["apiVersion"], value["kind"])
        if info is None:
            continue
        schema = info.schema
        spec = validate.parse_refs(value["spec"], doc_of(value), value["apiVersion"].partition("/")[0], "spec")
        positions: set[tuple[str | int, ...]] = set()
        instance = validate._with_placeholders(spec, (), positions, [])
        check = fastcheck.compiled(schema, placeholders=True)
        assert check is not None and check(instance), (value["kind"], instance)
        checked += 1
    assert checked >= 10


def test_mutated_specs_have_the_same_outcome_with_and_without_the_compiled_check() -> None:
    rng = random.Random(8)
    compared = rejected = 0
    for _, value in example_documents():
        provider = value["apiVersion"].partition("/")[0]
        info = kind_info(value["apiVersion"], value["kind"])
        if info is None:
            continue
        validator = schemacheck.validator_for(info.schema)
        base = validate.parse_refs(value["spec"], doc_of(value), provider, "spec")
        for spec in mutations(base, rng, 150):
            doc = doc_of({**value, "spec": spec})
            slow = outcome(validate.check_spec, spec, info, validator, doc, fast=False)
            assert outcome(validate.check_spec, spec, info, validator, doc) == slow, spec
            compared += 1
            rejected += slow is not None
    assert compared > 1000 and rejected > 300


def test_mutated_envelopes_have_the_same_outcome_with_and_without_the_compiled_check() -> None:
    rng = random.Random(9)
    compared = 0
    for _, value in example_documents():
        for mutated in mutations(value, rng, 60):
            if not isinstance(mutated, dict):
                continue
            slow = outcome(validate.check_envelope, doc_of(mutated), fast=False)
            assert outcome(validate.check_envelope, doc_of(mutated)) == slow, mutated
            compared += 1
    assert compared > 500


ANYOF_PARENT = {
    "type": "object",
    "properties": {
        "target": {
            "anyOf": [
                {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]},
                {"type": "null"},
            ]
        },
        "flag": {"type": "boolean"},
        "mode": {"enum": [1, 2]},
        "id": {"$ref": "#/$defs/id"},
    },
    "$defs": {"id": {"type": "integer", "minimum": 1}},
}


@pytest.mark.parametrize(
    ("spec", "valid"),
    [
        ({"id": REF}, True),  # an id field: the placeholder stands for a valid id
        ({"target": {"id": 5}}, True),
        ({"target": {"id": REF}}, False),  # the anyOf at 'target' fails: jsonschema reports it
        ({"flag": REF}, False),  # a boolean is wanted
        ({"mode": REF}, False),  # an enum value is wanted
        ({"mode": True}, False),  # true is not 1
        ({"id": "${ref:mediamath.Campaign/c1}"}, False),  # a literal string, not a reference
    ],
)
def test_reference_rule_cases(spec: dict[str, Any], valid: bool) -> None:
    info = KindInfo(name="Thing", schema=ANYOF_PARENT)
    validator = schemacheck.validator_for(ANYOF_PARENT)
    doc = doc_of({"spec": spec})
    slow = outcome(validate.check_spec, spec, info, validator, doc, fast=False)
    assert (slow is None) is valid
    assert outcome(validate.check_spec, spec, info, validator, doc) == slow


@pytest.mark.parametrize(
    "schema",
    [
        {"prefixItems": [{"type": "integer"}]},
        {"type": "object", "unevaluatedProperties": False},
        {"type": "object", "dependentRequired": {"a": ["b"]}},
        {"$defs": {"n": {"properties": {"next": {"$ref": "#/$defs/n"}}}}, "$ref": "#/$defs/n"},
        {"$ref": "https://example.com/schema.json"},
        {"multipleOf": 0.1},
    ],
)
def test_schemas_it_cannot_mirror_get_no_compiled_check(schema: dict[str, Any]) -> None:
    assert fastcheck.compiled(schema) is None


def test_ref_siblings_apply_as_in_2020_12() -> None:
    schema = {"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 2}
    check = fastcheck.compiled(schema)
    assert check is not None
    assert check("ab") and not check("abc") and not check(3)


def test_formats_are_jsonschema_s_own() -> None:
    check = fastcheck.compiled({"type": "string", "format": "email"})
    assert check is not None
    validator = schemacheck.validator_for({"type": "string", "format": "email"})
    for value in ["a@b.c", "no-at-sign", "x@y", "@", "a..b@c.d"]:
        if check(value):
            assert validator.is_valid(value), value
    assert not check("no-at-sign")


def test_a_schema_is_compiled_only_once_enough_documents_use_it() -> None:
    """A small workspace never pays the compile cost: the first documents go to jsonschema."""
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    checks = [fastcheck.when_worth_it(schema) for _ in range(fastcheck.COMPILE_AFTER + 1)]
    assert checks[: fastcheck.COMPILE_AFTER - 1] == [None] * (fastcheck.COMPILE_AFTER - 1)
    assert checks[-1] is not None and checks[-1]({"n": 1}) and not checks[-1]({"n": "x"})
