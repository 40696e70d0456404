"""``${env:NAME}`` and ``${var:name}`` interpolation inside YAML string values.

- ``${env:NAME}`` is the environment variable ``NAME`` (always a string).
- ``${var:name}`` is ``variables.name`` from ``reconciler.yaml``. A string that is exactly one
  ``${var:name}`` takes the variable's own type (number, boolean, list, mapping); inside a
  longer string the variable is rendered as text (JSON spelling for numbers, booleans, null).
- ``$${`` writes a literal ``${``. Any other ``${...}`` is an error, so typos do not pass silently.
- Keys are never interpolated, only values.

Undefined names raise :class:`reconciler.errors.InterpolationError` naming ``file:line`` and
the field path. Messages name the variable, never its value (it may be a secret).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.errors import InterpolationError, Location

TOKEN_RE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VAR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
ENV_ONLY_RE = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$")

Locate = Callable[[str], Location]


def env_reference(text: str) -> str | None:
    """``NAME`` when ``text`` is exactly ``${env:NAME}``, else None."""
    m = ENV_ONLY_RE.match(text)
    return m.group(1) if m else None


def has_interpolation(text: str) -> bool:
    return "${" in text


def interpolate_string(
    text: str,
    *,
    env: Mapping[str, str],
    variables: Mapping[str, Any] | None,
    location: Location,
    path: str,
) -> Any:
    """Interpolate one string value. ``variables=None`` forbids ``${var:...}`` (e.g. in variables)."""
    if "${" not in text:
        return text
    matches = list(TOKEN_RE.finditer(text))
    whole = matches[0] if len(matches) == 1 and matches[0].span() == (0, len(text)) else None
    if whole is not None and whole.group(1) is not None and whole.group(1).startswith("var:"):
        return copy.deepcopy(_lookup(whole.group(1), env, variables, location, path))
    out: list[str] = []
    pos = 0
    for m in matches:
        out.append(text[pos : m.start()])
        pos = m.end()
        token = m.group(0)
        if token == "$${":
            out.append("${")
            continue
        if m.group(1) is None:
            raise InterpolationError(
                "unterminated '${' (write '$${' for a literal '${')", location=location, path=path
            )
        value = _lookup(m.group(1), env, variables, location, path)
        out.append(_as_text(value, m.group(1), location, path))
    out.append(text[pos:])
    return "".join(out)


def interpolate_tree(
    value: Any,
    *,
    env: Mapping[str, str],
    variables: Mapping[str, Any] | None,
    locate: Locate,
    path: str = "",
) -> Any:
    """Interpolate every string value in a JSON-like tree (keys are left alone)."""
    if isinstance(value, str):
        return interpolate_string(value, env=env, variables=variables, location=locate(path), path=path)
    if isinstance(value, dict):
        return {
            k: interpolate_tree(
                v, env=env, variables=variables, locate=locate, path=f"{path}.{k}" if path else k
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            interpolate_tree(
                v, env=env, variables=variables, locate=locate, path=f"{path}.{i}" if path else str(i)
            )
            for i, v in enumerate(value)
        ]
    return value


def _lookup(
    expression: str,
    env: Mapping[str, str],
    variables: Mapping[str, Any] | None,
    location: Location,
    path: str,
) -> Any:
    source, sep, name = expression.partition(":")
    if sep and source == "env" and ENV_NAME_RE.match(name):
        if name not in env:
            raise InterpolationError(
                f"environment variable {name} is not set (used as ${{env:{name}}})",
                location=location,
                path=path,
            )
        return env[name]
    if sep and source == "var" and VAR_NAME_RE.match(name):
        if variables is None:
            raise InterpolationError(
                f"${{var:{name}}} cannot be used here (only ${{env:NAME}} is allowed)",
                location=location,
                path=path,
            )
        if name not in variables:
            known = ", ".join(sorted(variables)) or "none are defined"
            raise InterpolationError(
                f"variable '{name}' is not defined in reconciler.yaml variables (known: {known})",
                location=location,
                path=path,
            )
        return variables[name]
    raise InterpolationError(
        f"'${{{expression}}}' is not ${{env:NAME}} or ${{var:name}} (write '$${{' for a literal '${{')",
        location=location,
        path=path,
    )


def _as_text(value: Any, expression: str, location: Location, path: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        raise InterpolationError(
            f"'${{{expression}}}' is a {'mapping' if isinstance(value, dict) else 'list'} and cannot be "
            "embedded in a longer string (use it as the whole value)",
            location=location,
            path=path,
        )
    return json.dumps(value)
