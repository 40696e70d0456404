"""Hostile manifests (issue 9 item 4): property-based and hand-made bad input to validate and plan.

Aspects covered:
- hypothesis feeds random text (weighted towards YAML syntax: indentation, ``:``, ``-``,
  flow collections, anchors, aliases, merge keys, tags, directives, ``${env:}``/``${var:}``,
  references) and random document structures (valid envelopes with random specs for every kind of
  the three real providers, random references, lifecycles and junk) to ``validate`` and ``plan``
  of a workspace whose providers point at a live SandboxServer. Always: exit 0 (valid) or exit 1
  with an ``Error:`` message, never a traceback or an "internal error"; the state files are
  byte-for-byte unchanged and the sandbox received no write.
- A valid ~20-object estate over the three providers with up to three random mutations (a value
  replaced by another of the same JSON type, such as huge numbers, odd dates or unicode; a field
  dropped or added; a reference pointed elsewhere, cycles included): the providers' normalisers
  and the plan builder see schema-valid but odd input.
- The same for random text as the workspace file ``reconciler.yaml``.
- Classic attacks, one by one: YAML "billion laughs" (alias expansion), nesting 100,000 deep,
  Python object tags (``!!python/object/apply:os.system``, which must not run), invalid UTF-8
  and NUL bytes, a 5 MB scalar, a symlink loop in the manifest directory, self-referencing
  ``${var:}``: each gives exit 1 and a message (or 0) in bounded time, nothing written.
- The harness accepts valid input (exit 0, changes planned) so it is not vacuous.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli.main import cli
from reconciler.providers.liveramp.provider import LiveRampProvider
from reconciler.providers.mediamath.provider import MediaMathProvider
from reconciler.providers.mediarithmics.provider import MediarithmicsProvider
from tests.reliability.estate import (
    SMALL,
    WORKSPACE_YAML,
    liveramp_docs,
    mediamath_docs,
    mediarithmics_docs,
    workspace_env,
)
from tests.reliability.harness import LiveSandbox


def spec_fields(schema: dict[str, Any]) -> list[str]:
    """The spec's field names, wherever the kind's schema keeps them."""
    spec = schema.get("$defs", {}).get("spec", schema)
    return sorted(spec.get("properties", {})) or ["name"]


PROVIDER_KINDS: dict[str, dict[str, list[str]]] = {
    provider: {kind: spec_fields(dict(info.schema)) for kind, info in cls.kinds.items()}
    for provider, cls in (
        ("mediamath", MediaMathProvider),
        ("liveramp", LiveRampProvider),
        ("mediarithmics", MediarithmicsProvider),
    )
}
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Bench:
    """A workspace on a live sandbox, and the CLI run in-process on it."""

    def __init__(self, root: Path, sandbox: LiveSandbox, cache: Path) -> None:
        self.root = root
        self.sandbox = sandbox
        self.env = workspace_env(sandbox.url, cache)
        self.manifest = root / "manifests" / "input.yaml"
        self.runner = CliRunner()

    def fingerprint(self) -> dict[str, str]:
        state_dir = self.root / ".reconciler"
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(state_dir.glob("*"))
            if p.is_file() and p.suffix in (".json", ".jsonl", ".lock")
        }

    def invoke(self, *args: str) -> tuple[int, str]:
        result = self.runner.invoke(cli, ["-C", str(self.root), *args], env=self.env, catch_exceptions=True)
        text = result.stdout + result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"{args}: escaped {type(result.exception).__name__}: {result.exception}\n{text}")
        return result.exit_code, text

    def check(self, data: bytes, *commands: str, name: str = "input.yaml") -> dict[str, int]:
        """Write ``data`` as a manifest, run each command; assert the invariants; exit codes."""
        target = self.root / "manifests" / name
        target.write_bytes(data)
        before_state, before_writes = self.fingerprint(), self.sandbox.write_count()
        codes = {}
        try:
            for command in commands:
                code, text = self.invoke(command)
                codes[command] = code
                assert code in (0, 1), f"{command}: exit {code}\n{text[-2000:]}"
                assert "Traceback" not in text and "internal error" not in text, f"{command}:\n{text[-3000:]}"
                if code == 1:
                    assert "Error:" in text, f"{command}:\n{text[-2000:]}"
            assert self.fingerprint() == before_state, "the state files changed"
            assert self.sandbox.write_count() == before_writes, [w.path for w in self.sandbox.writes()[before_writes:]]
        finally:
            target.unlink()
        return codes


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    root = tmp_path_factory.mktemp("hostile") / "ws"
    (root / "manifests").mkdir(parents=True)
    (root / "reconciler.yaml").write_text(WORKSPACE_YAML, encoding="utf-8")
    with LiveSandbox() as sandbox:
        b = Bench(root, sandbox, root.parent / "cache")
        code, text = b.invoke("plan")  # creates the (empty) state once
        assert code == 0, text
        yield b


# -- random text -------------------------------------------------------------------------------------
YAML_TOKENS = st.sampled_from(
    [
        "\n", "\n  ", "\n    ", "\n- ", ": ", ":", "- ", "---\n", "...\n", "{", "}", "[", "]", ", ", "&a ", "*a",
        "<<: *a", "!!python/object/apply:os.system ", "!!str ", "!!binary ", "!custom ", "%YAML 1.2\n",
        "%TAG ! tag:x,2000:\n", "? ", "| ", "> ", "'", '"', "#", "\t", "${env:HOME}", "${env:NOPE_NOT_SET}",
        "${var:x}", "${", "{ref: Campaign/x}", "{ref: mediamath.Agency/ag0}", "apiVersion: mediamath/v1",
        "kind: Campaign", "kind: CleanRoom", "apiVersion: mediarithmics/v1", "metadata:", "name: x", "spec:",
        "lifecycle:", "prevent_destroy: true", "ignore_changes: [name]", "on_delete: nope", "~", "null",
        "1e999", "-0", "0x1F", ".nan", "true", "yes", "2024-01-01", "\u00e9", "\u202e", "\ufeff", "\x00",
    ]
)
yaml_text = st.lists(st.one_of(YAML_TOKENS, st.text(max_size=6)), max_size=40).map("".join)


@SETTINGS
@given(text=st.one_of(yaml_text, st.text(max_size=200)))
def test_random_text_as_manifest(bench: Bench, text: str) -> None:
    bench.check(text.encode("utf-8", errors="surrogatepass"), "validate", "plan")


@SETTINGS
@given(data=st.binary(max_size=300))
def test_random_bytes_as_manifest(bench: Bench, data: bytes) -> None:
    bench.check(data, "validate", "plan")


# -- random structures ------------------------------------------------------------------------------------
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
)
json_like = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12
)


@st.composite
def documents(draw: st.DrawFn) -> Any:
    provider = draw(st.sampled_from(sorted(PROVIDER_KINDS)))
    kinds = PROVIDER_KINDS[provider]
    kind = draw(st.sampled_from(sorted(kinds)) | st.text(max_size=8))
    fields = kinds.get(kind, ["name"])
    ref = st.builds(
        lambda k, n: {"ref": f"{k}/{n}"}, st.sampled_from(sorted(kinds)) | st.text(max_size=5), st.text(max_size=6)
    )
    spec = st.dictionaries(st.sampled_from(fields) | st.text(max_size=8), scalars | ref | json_like, max_size=8)
    doc: dict[str, Any] = {
        "apiVersion": draw(st.sampled_from([f"{provider}/v1", f"{provider}/v2", "nope/v1", provider]) | st.text(max_size=8)),
        "kind": kind,
        "metadata": draw(st.fixed_dictionaries({"name": st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True) | st.text(max_size=6)}) | json_like),
        "spec": draw(spec | json_like),
    }
    if draw(st.booleans()):
        doc["lifecycle"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "prevent_destroy": scalars,
                    "ignore_changes": st.lists(st.sampled_from(fields) | st.text(max_size=5), max_size=3),
                    "on_delete": st.sampled_from(["delete", "abandon", "maybe"]),
                },
            )
            | json_like
        )
    if draw(st.integers(0, 9)) == 0:
        del doc[draw(st.sampled_from(sorted(doc)))]
    return doc


@SETTINGS
@given(docs=st.lists(documents() | json_like, min_size=1, max_size=4))
def test_random_structures_as_manifests(bench: Bench, docs: list[Any]) -> None:
    text = yaml.safe_dump_all(docs, allow_unicode=True, sort_keys=False)
    bench.check(text.encode("utf-8", errors="surrogatepass"), "validate", "plan")


# -- valid documents, mutated -----------------------------------------------------------------------------
BASE_DOCS: list[dict[str, Any]] = list(
    yaml.safe_load_all("---\n".join(mediamath_docs(SMALL) + liveramp_docs(SMALL) + mediarithmics_docs(SMALL)))
)


def same_type(value: Any) -> st.SearchStrategy[Any]:
    """Random values of the same JSON type as ``value`` (so the schema may well accept them)."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(min_value=-(2**63), max_value=2**63) | st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(value, float):
        return st.floats(allow_nan=False, allow_infinity=False) | st.integers()
    if isinstance(value, str):
        odd = ["", " ", "0", "2027-02-30T25:61:00", "1e309", "${env:HOME}", "\u0000", "x" * 300]
        return st.text(max_size=30) | st.sampled_from(odd)
    if isinstance(value, list):
        return st.lists(st.sampled_from(value), max_size=len(value) + 2) if value else st.just([])
    if isinstance(value, dict):
        return st.fixed_dictionaries({k: same_type(v) | st.just(v) for k, v in value.items()})
    return json_like


@st.composite
def mutated_estate(draw: st.DrawFn) -> list[dict[str, Any]]:
    docs = [dict(d, spec=dict(d["spec"])) for d in BASE_DOCS]
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):
        doc = docs[draw(st.integers(0, len(docs) - 1))]
        spec = doc["spec"]
        how = draw(st.sampled_from(["retype", "retype", "drop", "add", "ref"]))
        if not spec:
            continue
        key = draw(st.sampled_from(sorted(spec)))
        if how == "retype":
            spec[key] = draw(same_type(spec[key]))
        elif how == "drop":
            del spec[key]
        elif how == "add":
            spec[draw(st.text(max_size=8))] = draw(json_like)
        else:
            spec[key] = {"ref": draw(st.sampled_from([f"{d['kind']}/{d['metadata']['name']}" for d in docs]))}
    return docs


@SETTINGS
@given(docs=mutated_estate())
def test_valid_estate_with_random_mutations(bench: Bench, docs: list[dict[str, Any]]) -> None:
    text = yaml.safe_dump_all(docs, allow_unicode=True, sort_keys=False)
    bench.check(text.encode("utf-8", errors="surrogatepass"), "validate", "plan")


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(yaml_text, st.text(max_size=200)))
def test_random_workspace_file(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    root = tmp_path_factory.mktemp("wsfile")
    (root / "reconciler.yaml").write_bytes(text.encode("utf-8", errors="surrogatepass"))
    for command in ("validate", "plan"):
        result = CliRunner().invoke(cli, ["-C", str(root), command], env={}, catch_exceptions=True)
        out = result.stdout + result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit), out
        assert result.exit_code in (0, 1), out
        assert "Traceback" not in out and "internal error" not in out, out
        if result.exit_code == 1:
            assert "Error:" in out, out


# -- classic attacks ----------------------------------------------------------------------------------------
def billion_laughs() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    doc = "apiVersion: mediamath/v1\nkind: Agency\nmetadata: {name: laughs}\nspec:\n  name: x\n  organization_id: 1\n  extra:\n"
    return (doc + "\n".join("    " + line for line in lines) + "\n").encode()


ATTACKS = {
    "billion-laughs": billion_laughs(),
    "deep-flow-nesting": b"apiVersion: mediamath/v1\nkind: Agency\nmetadata: {name: deep}\nspec: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "deep-block-nesting": b"a:\n" + b"".join(b" " * (i + 1) + b"- \n" for i in range(3000)),
    "python-tag": b"apiVersion: mediamath/v1\nkind: Agency\nmetadata: {name: x}\nspec: !!python/object/apply:os.system ['touch PWNED']\n",
    "python-name-tag": b"!!python/name:os.system\n",
    "invalid-utf8": b"apiVersion: mediamath/v1\nkind: \xff\xfe\xfa\nmetadata: {name: x}\n",
    "nul-bytes": b"apiVersion: mediamath/v1\x00\nkind: Agency\n",
    "huge-scalar": b"apiVersion: mediamath/v1\nkind: Agency\nmetadata: {name: big}\nspec:\n  name: " + b"x" * (5 << 20) + b"\n  organization_id: 1\n",
    "many-documents": b"---\n{}\n" * 20_000,
    "merge-loop": b"a: &a\n  <<: *a\n",
    "self-var": b"apiVersion: mediarithmics/v1\nkind: CleanRoom\nmetadata: {name: v}\nspec:\n  name: ${var:v}\n  organisation_id: '1863'\n",
    "utf16-bom": "apiVersion: mediamath/v1\nkind: Agency\n".encode("utf-16"),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_classic_attack(bench: Bench, attack: str) -> None:
    cwd = Path.cwd()
    os.chdir(bench.root)
    try:
        codes = bench.check(ATTACKS[attack], "validate", "plan")
    finally:
        os.chdir(cwd)
    assert not (bench.root / "PWNED").exists() and not (cwd / "PWNED").exists()
    assert codes["validate"] == 1 or attack == "many-documents", codes


@pytest.mark.timeout(60)
def test_symlink_loop_in_the_manifest_directory(bench: Bench) -> None:
    loop = bench.root / "manifests" / "loop"
    loop.symlink_to(bench.root / "manifests", target_is_directory=True)
    try:
        codes = bench.check(b"apiVersion: mediarithmics/v1\nkind: CleanRoom\nmetadata: {name: l}\nspec: {name: L, organisation_id: '1863', members: []}\n", "validate", "plan")
    finally:
        loop.unlink()
    assert set(codes.values()) <= {0, 1}


def test_the_harness_accepts_valid_input(bench: Bench) -> None:
    valid = b"""\
apiVersion: mediarithmics/v1
kind: CleanRoom
metadata: {name: fine}
spec:
  name: A fine room
  organisation_id: "1863"
  members:
    - {organisation_id: "1863", purposes: [INSIGHTS]}
"""
    assert bench.check(valid, "validate", "plan") == {"validate": 0, "plan": 0}
    bench.manifest.write_bytes(valid)
    try:
        code, text = bench.invoke("plan")
        assert code == 0 and "1 to create" in text, text
        assert json.loads(bench.invoke("plan", "--format", "json")[1])["resource_changes"]
    finally:
        bench.manifest.unlink()


# -- hostile plan, state, journal and lock files --------------------------------------------------------------
DEEP_JSON = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("target", "command"),
    [
        ("plan.json", ("apply", "{plan}")),
        (".reconciler/state.json", ("state", "list")),
        (".reconciler/journal.jsonl", ("state", "list")),
        (".reconciler/state.lock", ("apply", "--auto-approve")),
    ],
)
def test_deeply_nested_json_in_plan_state_journal_or_lock_is_a_clear_error(
    tmp_path: Path, target: str, command: tuple[str, ...]
) -> None:
    root = tmp_path / "ws"
    (root / ".reconciler").mkdir(parents=True)
    (root / "reconciler.yaml").write_text("apiVersion: reconciler/v1\nkind: Workspace\n")
    if target.endswith("journal.jsonl"):
        assert CliRunner().invoke(cli, ["-C", str(root), "state", "list"]).exit_code == 0  # a real state first
        with (root / target).open("ab") as fh:
            fh.write(DEEP_JSON + b"\n")
    else:
        (root / target).write_bytes(DEEP_JSON)
    args = [a.replace("{plan}", str(root / "plan.json")) for a in command]
    result = CliRunner().invoke(cli, ["-C", str(root), *args], catch_exceptions=True)
    text = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), text
    assert result.exit_code == 1, text
    assert "Error:" in text and "internal error" not in text, text
