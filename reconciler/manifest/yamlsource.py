"""Line-tracking YAML loading: every node of every document keeps its source line.

PyYAML's ``safe_load`` throws the marks away, so values are built here from ``yaml.compose``
nodes instead. The result of one document is a :class:`SourceDocument`: the plain JSON-like
value plus ``lines``, a map from dotted field paths (``spec.members.0.purposes``) to 1-based
line numbers. Mapping entries are located at their key, sequence items at the item.

Scalars follow the YAML 1.2 core schema rather than PyYAML's YAML 1.1 one, because the 1.1
rules surprise people in configuration files: only ``true``/``false`` are booleans (``yes``,
``no``, ``on``, ``off`` stay strings: the "Norway problem"), ``09:30`` is a string rather than
a base-60 integer, ``0123`` is decimal, and dates stay strings (JSON Schema formats check them).
Mapping keys are always strings (their source text). Duplicate keys are an error (PyYAML
accepts them silently and keeps the last); merge keys (``<<: *anchor``) are supported.

Hostile input is bounded: only regular files are read (a FIFO, a device such as a symbolic link
to ``/dev/zero``, a symbolic-link loop: an error naming the path), at most
:data:`MAX_FILE_BYTES`; nesting is capped at :data:`MAX_DEPTH`; and alias expansion ("billion
laughs") by what is really built: :data:`MAX_NODES` values per document and, per file, a budget
of characters for the keys, values and field paths made (long keys under many aliases cost as
much as long values).

Errors are :class:`reconciler.errors.ManifestError` naming ``file:line``.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.events import CollectionEndEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import Location, ManifestError

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
MERGE = "tag:yaml.org,2002:merge"
TIMESTAMP = "tag:yaml.org,2002:timestamp"
MAP = "tag:yaml.org,2002:map"
SEQ = "tag:yaml.org,2002:seq"
MAX_NODES = 1_000_000
MAX_DEPTH = 100  # collections inside collections; real manifests stay under 10
MAX_FILE_BYTES = 128 * 1024 * 1024  # a manifest, workspace, var or data file
# characters of keys, values and field paths built for one file: a floor, plus a few times the
# file's own size (without aliases a file builds about twice its size)
MIN_BUILD_BUDGET = 64_000_000
BUILD_BUDGET_FACTOR = 4


# libyaml's parser when PyYAML was built with it (about 5x faster), else the pure-Python one.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CoreSchemaLoader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader whose implicit scalar resolution follows the YAML 1.2 core schema."""

    yaml_implicit_resolvers: dict[Any, Any] = {}

    resolve: Any


def _remembered_resolve(self: Any, kind: Any, value: Any, implicit: Any) -> Any:
    """PyYAML's tag resolution, remembered per plain scalar text: the composer asks for every
    node, and manifests repeat the same short values. (``self`` may be the class itself, as
    reconciler.export calls it; no path resolvers are ever registered.)"""
    if kind is ScalarNode and implicit[0] and not self.yaml_path_resolvers:
        tag = _PLAIN_TAGS.get(value)
        if tag is None:
            tag = _BaseLoader.resolve(self, kind, value, implicit)
            if len(value) <= 64 and len(_PLAIN_TAGS) < _PLAIN_TAGS_MAX:
                _PLAIN_TAGS[value] = tag
        return tag
    return _BaseLoader.resolve(self, kind, value, implicit)


_CoreSchemaLoader.resolve = _remembered_resolve
_PLAIN_TAGS: dict[str, str] = {}  # plain scalar text -> implicit tag (fixed by the resolvers below)
_PLAIN_TAGS_MAX = 100_000


_CoreSchemaLoader.add_implicit_resolver(
    BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreSchemaLoader.add_implicit_resolver(
    INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_CoreSchemaLoader.add_implicit_resolver(
    FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9]+[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)
_CoreSchemaLoader.add_implicit_resolver(NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_CoreSchemaLoader.add_implicit_resolver(MERGE, re.compile(r"^(?:<<)$"), ["<"])


@dataclass(frozen=True)
class SourceDocument:
    """One YAML document: its value, where it starts, and the line of every field path."""

    file: str
    line: int
    value: Any
    lines: dict[str, int] = field(default_factory=dict)
    # False when no string value holds "${" and no merge key (<<) was used: then interpolation
    # changes nothing and ``lines`` already has every path of ``value``.
    plain: bool = False
    # a document generated from a template (:mod:`reconciler.manifest.generate`): the names its
    # expressions read (``each``, ``param``...), its instance and how it was made (for messages)
    scope: Mapping[str, Any] = field(default_factory=dict)
    origin: str = ""
    how: str = ""

    def location(self, path: str = "") -> Location:
        """The location of ``path`` (or of its nearest located ancestor, or the document)."""
        probe = path
        while probe:
            if probe in self.lines:
                return Location(self.file, self.lines[probe], self.origin, self.how)
            probe = probe.rpartition(".")[0]
        return Location(self.file, self.line, self.origin, self.how)


def join(path: str, key: str | int) -> str:
    """Dotted field path of ``key`` under ``path``."""
    return f"{path}.{key}" if path else str(key)


def read_text(path: Path, display: str, limit: int = MAX_FILE_BYTES) -> str:
    """Read a UTF-8 file (a BOM is allowed); anything else is a ManifestError with its line."""
    data = read_regular_file(path, display, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ManifestError(
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8",
            location=Location(display, line),
        ) from None


def read_regular_file(path: Path, display: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path``, which must be a regular file (a symbolic link to one is fine) of at
    most ``limit`` bytes. Opened without blocking (a FIFO never hangs the read) and checked on the
    open file itself, so nothing can be swapped in between."""
    where = Location(display, 1)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ManifestError(f"cannot read file: {_reason(exc)}{_dangling(path, exc)}", location=where) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ManifestError(
                f"not a regular file ({_file_type(info.st_mode)}): only regular files are read", location=where
            )
        if info.st_size > limit:
            raise ManifestError(f"file too large ({info.st_size} bytes; the limit is {limit})", location=where)
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > limit:  # it grew while being read
                raise ManifestError(f"file too large (more than {limit} bytes)", location=where)
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise ManifestError(f"cannot read file: {_reason(exc)}", location=where) from None
    finally:
        os.close(fd)


def _dangling(path: Path, exc: OSError) -> str:
    """`` (a symbolic link to /x/planted.yaml, which does not exist)`` for a dangling link."""
    if exc.errno != errno.ENOENT or not os.path.islink(path):
        return ""
    return f" (a symbolic link to {os.readlink(path)}, which does not exist)"


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a loop of symbolic links"
    return (exc.strerror or str(exc)).lower()


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a file"


def load_documents(text: str, display: str) -> list[SourceDocument | None]:
    """Every document of a YAML stream, in order. Empty (comment-only) documents are None."""
    _check_depth(text, display)
    try:
        nodes: list[Node | None] = list(_compose_all(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        detail = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ManifestError(f"invalid YAML: {detail}", location=Location(display, line)) from None
    except yaml.YAMLError as exc:  # e.g. a reader error on a control character
        raise ManifestError(f"invalid YAML: {exc}", location=Location(display, 1)) from None
    docs: list[SourceDocument | None] = []
    budget = _Budget(max(MIN_BUILD_BUDGET, BUILD_BUDGET_FACTOR * len(text)))
    for node in nodes:
        if node is None or (isinstance(node, ScalarNode) and node.tag == NULL and node.value in ("", "~")):
            docs.append(None)
            continue
        builder = _Builder(display, budget)
        value = builder.build(node, "")
        plain = not (builder.dollar or builder.merged)
        docs.append(SourceDocument(display, node.start_mark.line + 1, value, builder.lines, plain))
    return docs


_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"\\]|\\.)*\"")
_BRACKETS = re.compile(r"[\[\]{}]")
_BLOCK_PREFIX = re.compile(r"^[ \t]*(?:[-?][ \t]+)*", re.MULTILINE)


def _check_depth(text: str, display: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before composing: libyaml's composer recurses in C (a
    document nested a few ten thousand levels deep crashes the process) and the builder recurses
    in Python. A cheap upper bound (block nesting needs indentation; flow nesting needs brackets)
    clears ordinary files; only the others get the exact, event-by-event count."""
    flow = depth = 0
    for bracket in _BRACKETS.findall(_QUOTED.sub("", text)):
        depth = depth + 1 if bracket in "[{" else max(0, depth - 1)
        flow = max(flow, depth)
    block = max((len(m) for m in _BLOCK_PREFIX.findall(text)), default=0) + 2
    if flow + block <= MAX_DEPTH:
        return
    loader = _CoreSchemaLoader(text)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1 if event.start_mark is not None else 1
                    raise ManifestError(
                        f"collections nested more than {MAX_DEPTH} levels deep", location=Location(display, line)
                    )
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # invalid YAML: the real parse reports it with its line
    finally:
        loader.dispose()


def compose_documents(text: str, display: str) -> list[Node | None]:
    """The node tree of every document, with source marks (for in-place edits,
    :mod:`reconciler.manifest.edit`); parsed exactly as :func:`load_documents` parses."""
    load_documents(text, display)  # the same checks and errors first
    return list(_compose_all(text))


def _compose_all(text: str) -> Iterator[Node | None]:
    loader = _CoreSchemaLoader(text)
    try:
        while loader.check_node():
            yield loader.get_node()
    finally:
        loader.dispose()


class _Budget:
    """Characters one file may build (shared by its documents: anchors are per document, but a
    file of many small bombs must not multiply the allowance)."""

    def __init__(self, chars: int) -> None:
        self.left = chars
        self.total = chars


class _Builder:
    """Turns a node tree into plain values, recording the line of every path."""

    def __init__(self, display: str, budget: _Budget | None = None) -> None:
        self.display = display
        self.budget = budget or _Budget(MIN_BUILD_BUDGET)
        self.lines: dict[str, int] = {}
        self._active: set[int] = set()  # nodes being built: catches recursive aliases
        self._count = 0  # nodes built: caps alias expansion ("billion laughs")
        self.dollar = False  # some string value contains "${"
        self.merged = False  # some mapping used a merge key

    def error(self, node: Node, path: str, message: str) -> ManifestError:
        return ManifestError(message, location=Location(self.display, node.start_mark.line + 1), path=path)

    def _spend(self, node: Node, path: str, chars: int) -> None:
        """Count one node built at ``path`` (with ``chars`` characters of its own)."""
        self._count += 1
        if self._count > MAX_NODES:
            raise self.error(node, path, f"document too large (more than {MAX_NODES} values after expanding aliases)")
        self.budget.left -= chars + len(path)
        if self.budget.left < 0:
            raise self.error(
                node, path[:200],
                f"file too large once YAML aliases are expanded (more than {self.budget.total} characters of "
                "keys, values and field paths); write the values out, or split the file",
            )

    def build(self, node: Node, path: str) -> Any:
        if type(node) is ScalarNode:  # a leaf cannot be part of an alias cycle
            self._spend(node, path, len(node.value))
            if node.tag == STR:
                value: str = node.value
                if "${" in value:
                    self.dollar = True
                return value
            return self._scalar(node, path)
        if id(node) in self._active:
            raise self.error(node, path, "recursive YAML alias")
        self._active.add(id(node))
        self._spend(node, path, 0)
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                if node.tag != SEQ:
                    raise self.error(node, path, f"unsupported YAML tag {node.tag}")
                items = []
                for index, item in enumerate(node.value):
                    child = join(path, index)
                    self.lines.setdefault(child, item.start_mark.line + 1)
                    items.append(self.build(item, child))
                return items
            assert isinstance(node, ScalarNode)
            return self._scalar(node, path)
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: MappingNode, path: str) -> dict[str, Any]:
        if node.tag != MAP:
            raise self.error(node, path, f"unsupported YAML tag {node.tag}")
        own: dict[str, Any] = {}
        own_lines: dict[str, int] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise self.error(key_node, path, "mapping keys must be plain strings, not collections")
            if key_node.tag == MERGE:
                self.merged = True
                merged.update(self._merge_sources(value_node, path))
                continue
            key = key_node.value
            child = f"{path}.{key}" if path else key
            line = key_node.start_mark.line + 1
            if key in own:
                raise self.error(
                    key_node, child, f"duplicate key '{key}' (first written at line {own_lines[key]})"
                )
            own_lines[key] = line
            self.lines[child] = line
            own[key] = self.build(value_node, child)
        return {**merged, **own}

    def _merge_sources(self, node: Node, path: str) -> dict[str, Any]:
        """Values of a ``<<`` merge key: one mapping or a list of them (earlier ones win)."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        result: dict[str, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, MappingNode):
                raise self.error(source, path, "a merge key (<<) needs a mapping or a list of mappings")
            if id(source) in self._active:  # ``a: &a {<<: *a}`` would merge itself for ever
                raise self.error(source, path, "recursive YAML alias in a merge key (<<)")
            self._active.add(id(source))
            try:
                result.update(self._mapping(source, path))
            finally:
                self._active.discard(id(source))
        return result

    def _scalar(self, node: ScalarNode, path: str) -> Any:
        value: str = node.value
        tag = node.tag
        if tag in (STR, TIMESTAMP):
            if "${" in value:
                self.dollar = True
            return value
        if tag == NULL:
            return None
        if tag == BOOL:
            lowered = value.lower()
            if lowered not in ("true", "false"):
                raise self.error(node, path, f"'{value}' is not a boolean (use true or false)")
            return lowered == "true"
        if tag == INT:
            try:
                text = value.replace("_", "")
                base = 0 if text[:2].lower() in ("0o", "0x", "0b") else 10
                return int(text, base)
            except ValueError:
                raise self.error(node, path, f"'{value}' is not an integer") from None
        if tag == FLOAT:
            lowered = value.lower().lstrip("+")
            if lowered in (".inf", "-.inf", ".nan"):
                number = {".inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}[lowered]
            else:
                try:
                    number = float(value.replace("_", ""))
                except ValueError:
                    raise self.error(node, path, f"'{value}' is not a number") from None
            if not math.isfinite(number):
                raise self.error(node, path, f"'{value}' is not a finite number (JSON has no inf or nan)")
            return number
        raise self.error(node, path, f"unsupported YAML tag {tag}")
