"""Units below the loader: line-tracking YAML and interpolation.

Covers: field lines for nested mappings and lists, empty documents, duplicate keys (also in
nested and flow mappings), non-string keys, unsupported tags, recursive aliases, non-finite
numbers, BOM handling; interpolation of env/var, escapes, whole-string typing, embedding
rules, ${var:} forbidden where variables=None, env_reference.
"""

from __future__ import annotations

import pytest

from reconciler.errors import InterpolationError, Location, ManifestError
from reconciler.manifest.interpolate import env_reference, interpolate_string, interpolate_tree
from reconciler.manifest.yamlsource import load_documents, read_text

HERE = Location("f.yaml", 3)


def test_lines_of_nested_paths() -> None:
    (doc,) = load_documents("a:\n  b:\n    - x\n    -  y: 1\n       z: [1, 2]\n", "f.yaml")
    assert doc is not None
    assert doc.value == {"a": {"b": ["x", {"y": 1, "z": [1, 2]}]}}
    assert doc.lines == {
        "a": 1,
        "a.b": 2,
        "a.b.0": 3,
        "a.b.1": 4,
        "a.b.1.y": 4,
        "a.b.1.z": 5,
        "a.b.1.z.0": 5,
        "a.b.1.z.1": 5,
    }
    assert str(doc.location("a.b.1.z.1")) == "f.yaml:5"
    assert str(doc.location("a.b.7.nothing")) == "f.yaml:2"  # nearest located ancestor


def test_empty_documents_are_none() -> None:
    docs = load_documents("# c\n---\n---\n~\n---\na: 1\n", "f.yaml")
    assert [d.value if d else None for d in docs] == [None, None, {"a": 1}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: {x: 1, x: 2}\n", "f.yaml:1: a.x: duplicate key 'x' (first written at line 1)"),
        (
            "a:\n  b: 1\n  c:\n    d: 1\n    d: 2\n",
            "f.yaml:5: a.c.d: duplicate key 'd' (first written at line 4)",
        ),
        ("? [1, 2]\n: x\n", "f.yaml:1: mapping keys must be plain strings"),
        ("a: !!binary aGVsbG8=\n", "f.yaml:1: a: unsupported YAML tag tag:yaml.org,2002:binary"),
        ("a: !custom x\n", "f.yaml:1: a: unsupported YAML tag !custom"),
        ("a: &x [*x]\n", "f.yaml:1: a.0: recursive YAML alias"),
        ("a: .inf\n", "f.yaml:1: a: '.inf' is not a finite number"),
        ("a: 1\n\tb: 2\n", "f.yaml:2: invalid YAML"),
        ("a: 'unterminated\n", "f.yaml:2: invalid YAML"),
    ],
)
def test_yaml_errors(text: str, expected: str) -> None:
    with pytest.raises(ManifestError) as caught:
        load_documents(text, "f.yaml")
    assert str(caught.value).startswith(expected), str(caught.value)


def test_explicit_tags_and_bom(tmp_path) -> None:
    path = tmp_path / "b.yaml"
    path.write_bytes("\ufeffa: !!str 12\nb: !!int '7'\nc: !!float 1\n".encode())
    (doc,) = load_documents(read_text(path, "b.yaml"), "b.yaml")
    assert doc is not None and doc.value == {"a": "12", "b": 7, "c": 1.0}


def test_interpolate_string() -> None:
    env = {"HOST": "api.example.com", "EMPTY": ""}
    variables = {"n": 3, "flag": True, "none": None, "items": [1], "s": "x"}
    kw = {"env": env, "variables": variables, "location": HERE, "path": "spec.a"}
    assert interpolate_string("https://${env:HOST}/v2", **kw) == "https://api.example.com/v2"
    assert interpolate_string("${env:EMPTY}", **kw) == ""
    assert interpolate_string("${var:n}", **kw) == 3
    assert interpolate_string("${var:flag}", **kw) is True
    assert interpolate_string("${var:none}", **kw) is None
    assert interpolate_string("n=${var:n} f=${var:flag} z=${var:none}", **kw) == "n=3 f=true z=null"
    assert interpolate_string("$${var:n} costs $5 and ${var:s}", **kw) == "${var:n} costs $5 and x"
    assert interpolate_string("$${env:HOST}", **kw) == "${env:HOST}"
    items = interpolate_string("${var:items}", **kw)
    assert items == [1] and items is not variables["items"]  # a copy, not shared
    with pytest.raises(InterpolationError, match=r"^f.yaml:3: spec.a: '\$\{var:items\}' is a list"):
        interpolate_string("x ${var:items}", **kw)
    with pytest.raises(InterpolationError, match="environment variable NOPE is not set"):
        interpolate_string("${env:NOPE}", **kw)
    with pytest.raises(InterpolationError, match=r"not \$\{env:NAME\} or \$\{var:name\}"):
        interpolate_string("${env:1BAD}", **kw)
    with pytest.raises(InterpolationError, match=r"\$\{var:n\} cannot be used here"):
        interpolate_string("${var:n}", env=env, variables=None, location=HERE, path="v")


def test_interpolate_tree_leaves_keys_and_non_strings() -> None:
    tree = {"${env:K}": ["${env:K}", 1, None, {"b": "${env:K}"}]}
    result = interpolate_tree(tree, env={"K": "v"}, variables={}, locate=lambda p: HERE)
    assert result == {"${env:K}": ["v", 1, None, {"b": "v"}]}


def test_env_reference() -> None:
    assert env_reference("${env:MM_PASSWORD}") == "MM_PASSWORD"
    assert env_reference("x${env:MM_PASSWORD}") is None
    assert env_reference("${var:x}") is None
