"""``${env:NAME}`` and ``${var:name}`` interpolation inside YAML string values.

- ``${env:NAME}`` is the environment variable ``NAME`` (always a string).
- ``${var:name}`` is ``variables.name`` from ``reconciler.yaml``. A string that is exactly one
  ``${var:name}`` takes the variable's own type (number, boolean, list, mapping); inside a
  longer string the variable is rendered as text (JSON spelling for numbers, booleans, null).
- ``$${`` writes a literal ``${``.
- Anything else in ``${...}`` is an expression (:mod:`reconciler.manifest.expressions`) over the
  names the caller gives in ``scope`` (``each``, ``var``, ``param``); a value that is exactly one
  expression takes the expression's type. An expression that does not evaluate is an error
  naming it, so typos do not pass silently.
- Keys are never interpolated, only values.
- A string that is exactly one ``${env:NAME}`` (or one ``${var:name}`` holding a string) is
  *typed* by the caller: its path is recorded in ``typed`` and the manifest loader turns it into
  the number, integer or boolean the kind's schema wants there when the text reads as one
  (``bid: ${var:bid}`` with ``bid: "1.5"`` is the number 1.5). Mixed text stays a string.
- Secrets stay out of manifests: a name in ``secret_env`` (every variable the workspace uses for
  credentials, plus its ``sensitive:`` list) is refused, and so is a ``${var:}`` whose value was
  read from one. A manifest field is printed in plans, recorded in state and sent to the API.

Undefined names raise :class:`reconciler.errors.InterpolationError` naming ``file:line`` and
the field path. Messages name the variable, never its value (it may be a secret).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.errors import InterpolationError, Location
from reconciler.manifest.expressions import ExpressionError, evaluate

TOKEN_RE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VAR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
ENV_ONLY_RE = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$")
_ENV_OR_VAR = re.compile(r"^\s*(env|var)\s*:")  # a malformed ${env:...}/${var:...}: not an expression
_VAR_IN_EXPRESSION = re.compile(r"\bvar\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*['\"]([^'\"]*)['\"]\s*\])")

Locate = Callable[[str], Location]


def env_reference(text: str) -> str | None:
    """``NAME`` when ``text`` is exactly ``${env:NAME}``, else None."""
    m = ENV_ONLY_RE.match(text)
    return m.group(1) if m else None


def has_interpolation(text: str) -> bool:
    return "${" in text


@dataclass(frozen=True)
class Secrets:
    """What manifests may not interpolate: environment variables holding secrets, and the
    workspace variables whose value was read from one (both by name, never by value)."""

    env: frozenset[str] = frozenset()
    variables: frozenset[str] = frozenset()

    def check(self, expression: str, location: Location, path: str) -> None:
        source, _, name = expression.partition(":")
        if (source == "env" and name in self.env) or (source == "var" and name in self.variables) or any(
            (m.group(1) or m.group(2)) in self.variables for m in _VAR_IN_EXPRESSION.finditer(expression)
        ):
            raise InterpolationError(
                f"${{{expression}}} holds a secret (a credential of the workspace, or marked sensitive) and "
                "cannot be used in a manifest: manifest values are shown in plans, kept in state and sent "
                "to the API",
                location=location,
                path=path,
            )


NO_SECRETS = Secrets()


def interpolate_string(
    text: str,
    *,
    env: Mapping[str, str],
    variables: Mapping[str, Any] | None,
    location: Location,
    path: str,
    secrets: Secrets = NO_SECRETS,
    typed: set[str] | None = None,
    scope: Mapping[str, Any] | None = None,
) -> Any:
    """Interpolate one string value. ``variables=None`` forbids ``${var:...}`` (e.g. in variables);
    ``scope=None`` allows no expressions (only ``${env:}``/``${var:}``).

    ``typed`` collects ``path`` when the value is exactly one ``${...}`` that gave a string."""
    if "${" not in text:
        return text
    matches = list(TOKEN_RE.finditer(text))
    whole = matches[0] if len(matches) == 1 and matches[0].span() == (0, len(text)) else None
    if whole is not None and whole.group(1) is not None:
        secrets.check(whole.group(1), location, path)
        value = _lookup(whole.group(1), env, variables, location, path, scope)
        if typed is not None and isinstance(value, str):
            typed.add(path)
        if whole.group(1).startswith("var:"):
            return copy.deepcopy(value)
        return value
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
        secrets.check(m.group(1), location, path)
        value = _lookup(m.group(1), env, variables, location, path, scope)
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
    secrets: Secrets = NO_SECRETS,
    typed: set[str] | None = None,
    scope: Mapping[str, Any] | None = None,
) -> Any:
    """Interpolate every string value in a JSON-like tree (keys are left alone)."""
    if isinstance(value, str):
        if "${" not in value:  # the common case: nothing to do, no location to compute
            return value
        return interpolate_string(
            value, env=env, variables=variables, location=locate(path), path=path, secrets=secrets, typed=typed,
            scope=scope,
        )
    if isinstance(value, dict):
        return {
            k: interpolate_tree(
                v, env=env, variables=variables, locate=locate, path=f"{path}.{k}" if path else k,
                secrets=secrets, typed=typed, scope=scope,
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            interpolate_tree(
                v, env=env, variables=variables, locate=locate, path=f"{path}.{i}" if path else str(i),
                secrets=secrets, typed=typed, scope=scope,
            )
            for i, v in enumerate(value)
        ]
    return value


def env_names(value: Any) -> set[str]:
    """Every ``NAME`` a JSON-like tree reads with ``${env:NAME}`` (to tell which variables hold
    a secret)."""
    if isinstance(value, str):
        return {m.group(1)[4:] for m in TOKEN_RE.finditer(value) if (m.group(1) or "").startswith("env:")}
    if isinstance(value, dict):
        return set().union(*(env_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(env_names(v) for v in value)) if value else set()
    return set()


def escape(text: str) -> str:
    """``text`` written so that interpolation gives it back unchanged (``${`` -> ``$${``): for
    values read from live objects (export, drift --accept), which must never be interpolated."""
    return text.replace("${", "$${")


def _lookup(
    expression: str,
    env: Mapping[str, str],
    variables: Mapping[str, Any] | None,
    location: Location,
    path: str,
    scope: Mapping[str, Any] | None = None,
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
    if scope is not None and expression.strip() and not _ENV_OR_VAR.match(expression):
        try:
            return evaluate(expression, scope)
        except ExpressionError as exc:
            raise InterpolationError(str(exc), location=location, path=path) from None
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
