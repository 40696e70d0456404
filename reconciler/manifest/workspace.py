"""The workspace file ``reconciler.yaml``: providers, state backend, variables, drift rules, paths.

```yaml
apiVersion: reconciler/v1
kind: Workspace
providers:
  mediamath:
    endpoint: sandbox            # or https://api.mediamath.com
    credentials: {username: "${env:MM_USERNAME}", password: "${env:MM_PASSWORD}"}
    rate_limit: 40               # any other key -> ProviderSettings.options
state: {backend: local, path: .reconciler/state.json}
variables: {region: REGION_US}
drift: {ignore: [{address: "mediamath.Strategy/*", fields: [bid_aggressiveness]}]}
adopt_existing: true             # adopt live objects matching a new document's natural key
guardrails: {max_budget_increase: 20%, max_bid: 25}
paths: [manifests/]
```

The file is validated against ``schemas/workspace.schema.json``. Credentials may only be written
as ``${env:NAME}``: a literal value is an error naming its line (and never echoing the value).
Variables may use ``${env:NAME}``; provider settings, state and paths may use both ``${env:}``
and ``${var:}``. A state database's connection string (``state.url``) holding a password must be
``${env:NAME}`` too; when credentials are not resolved (``validate``) and NAME is not set it is
left out, and the backend says so if the state is opened after all. Without a
workspace file every setting has its default and the start directory is the root.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from reconciler.errors import Location, WorkspaceError
from reconciler.manifest import schemacheck
from reconciler.manifest.defaults import Default
from reconciler.manifest.defaults import parse as parse_default
from reconciler.manifest.interpolate import (
    Secrets,
    env_names,
    env_reference,
    interpolate_string,
    interpolate_tree,
)
from reconciler.manifest.yamlsource import SourceDocument, load_documents, read_text
from reconciler.providers.base import GuardrailPolicy, ProviderConfig

WORKSPACE_FILE = "reconciler.yaml"
DEFAULT_STATE: Mapping[str, Any] = MappingProxyType({"backend": "local", "path": ".reconciler/state.json"})


@dataclass(frozen=True)
class ProviderSettings:
    """One ``providers.<name>`` block. ``credentials`` never appear in ``repr``/``str``."""

    name: str
    endpoint: str
    credentials: Mapping[str, str] = field(repr=False)
    options: Mapping[str, Any]
    factory: str | None
    location: Location
    allow_insecure_http: bool = False  # an http:// endpoint off this machine, accepted (and warned about)

    def __repr__(self) -> str:
        names = ", ".join(sorted(self.credentials))
        return (
            f"ProviderSettings(name={self.name!r}, endpoint={self.endpoint!r}, credentials=[{names}] (hidden), "
            f"options={dict(self.options)!r}, factory={self.factory!r}, location='{self.location}')"
        )

    __str__ = __repr__

    def provider_config(self, workspace_dir: Path) -> ProviderConfig:
        """The :class:`ProviderConfig` a provider is constructed with."""
        return ProviderConfig(
            name=self.name,
            endpoint=self.endpoint,
            credentials=self.credentials,
            options=self.options,
            workspace_dir=workspace_dir,
        )


@dataclass(frozen=True)
class DriftIgnoreRule:
    """Drift on ``fields`` of every resource whose address matches the glob ``address`` is ignored."""

    address: str
    fields: tuple[str, ...]

    def matches(self, address: str) -> bool:
        return fnmatch.fnmatchcase(address, self.address)


@dataclass(frozen=True)
class WorkspaceConfig:
    root: Path
    file: Path | None
    providers: Mapping[str, ProviderSettings] = field(default_factory=lambda: MappingProxyType({}))
    state: Mapping[str, Any] = field(default_factory=lambda: DEFAULT_STATE)
    variables: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    drift_ignore: tuple[DriftIgnoreRule, ...] = ()
    paths: tuple[Path, ...] = ()
    adopt_existing: bool = True
    guardrails: GuardrailPolicy = GuardrailPolicy()
    secrets: Secrets = Secrets()  # what manifests may not interpolate (names only)
    defaults: tuple[Default, ...] = ()  # ``defaults:`` of the file (and of its environment)
    environment: str | None = None  # the environment selected (--env / RECONCILER_ENV)
    var_files: tuple[Path, ...] = ()  # --var-file files (data, never manifests)
    warnings: tuple[str, ...] = ()  # said on every run (a plain-HTTP endpoint allowed on purpose)

    def ignored_drift_fields(self, address: str) -> set[str]:
        """Fields the workspace's drift rules ignore for ``address``."""
        return {f for rule in self.drift_ignore if rule.matches(address) for f in rule.fields}


def find_workspace(start: Path) -> Path | None:
    """The nearest ``reconciler.yaml`` in ``start`` or one of its parents."""
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for directory in (here, *here.parents):
        candidate = directory / WORKSPACE_FILE
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Selection:
    """How a command chose its workspace: a named environment (``--env``, else
    ``$RECONCILER_ENV``), and variables from ``--var-file`` (in order) and ``--var``."""

    environment: str | None = None
    var_files: tuple[Path, ...] = ()
    variables: Mapping[str, Any] = field(default_factory=dict)


def load_workspace_config(
    root: Path, env: Mapping[str, str], *, resolve_credentials: bool = True, selection: Selection = Selection()
) -> WorkspaceConfig:
    """Load ``root/reconciler.yaml`` (defaults when there is none), in the selected environment.

    ``resolve_credentials=False`` leaves every ``credentials`` mapping empty and does not
    require the environment variables they name (for ``validate`` in CI without secrets).

    Variables, the later winning: the file's ``variables``, the environment's, each
    ``--var-file``, each ``--var``. An environment's ``providers`` settings are laid over the
    file's (per provider, key by key); its ``state`` replaces the file's, and defaults to
    ``.reconciler/<environment>/state.json`` so that two environments never share a state.
    """
    root = root.resolve()
    path = root / WORKSPACE_FILE
    if not path.is_file():
        if selection.environment:
            raise WorkspaceError(f"--env {selection.environment}: there is no {WORKSPACE_FILE} to define environments in")
        extra = _extra_variables(selection, {})
        return WorkspaceConfig(root=root, file=None, paths=(root,), variables=MappingProxyType(extra),
                               var_files=selection.var_files)
    display = WORKSPACE_FILE
    docs = [d for d in load_documents(read_text(path, display), display) if d is not None]
    if not docs:
        raise WorkspaceError(
            "the workspace file is empty; it needs at least 'apiVersion: reconciler/v1' and 'kind: Workspace'",
            location=Location(display, 1),
        )
    if len(docs) > 1:
        raise WorkspaceError(
            "the workspace file must hold exactly one YAML document", location=docs[1].location()
        )
    doc = docs[0]
    if not isinstance(doc.value, dict):
        raise WorkspaceError(
            f"the workspace file must be a mapping, not {schemacheck.a_type(doc.value)}",
            location=doc.location(),
        )
    _check_credentials(doc)
    _check_schema(doc)
    doc = _in_environment(doc, selection.environment)
    _check_state_url(doc)
    data: dict[str, Any] = doc.value

    variables = interpolate_tree(
        data.get("variables", {}), env=env, variables=None, locate=doc.location, path="variables"
    )
    if not isinstance(variables, dict):  # pragma: no cover - the schema guarantees a mapping
        raise WorkspaceError("variables must be a mapping", location=doc.location("variables"))
    variables.update(_extra_variables(selection, variables, frozenset(data.get("sensitive") or ())))

    providers = {
        name: _provider(doc, name, block, env, variables, resolve_credentials)
        for name, block in sorted(data.get("providers", {}).items())
    }
    raw_state = dict(data.get("state", {}))
    unset = sorted(env_names(raw_state.get("url")) - set(env))
    if not resolve_credentials and unset:  # validate: a state database's connection string is not needed
        del raw_state["url"]
    block = interpolate_tree(raw_state, env=env, variables=variables, locate=doc.location, path="state")
    if "url" not in block and unset:
        block["url_unset"] = unset[0]  # said by the backend if the state is opened after all
    state = {**DEFAULT_STATE, **block} if block.get("backend", "local") == "local" else dict(block)
    rules = tuple(
        DriftIgnoreRule(address=rule["address"], fields=tuple(rule["fields"]))
        for rule in data.get("drift", {}).get("ignore", [])
    )
    raw_paths = data.get("paths")
    paths: tuple[Path, ...] = (root,)
    if raw_paths is not None:
        resolved = []
        for index, text in enumerate(raw_paths):
            where = f"paths.{index}"
            value = interpolate_string(
                text, env=env, variables=variables, location=doc.location(where), path=where
            )
            if not isinstance(value, str):
                raise WorkspaceError(
                    f"expected a path string, got {schemacheck.a_type(value)}",
                    location=doc.location(where),
                    path=where,
                )
            resolved.append((root / value).resolve())
        paths = tuple(resolved)
    return WorkspaceConfig(
        root=root,
        file=path,
        providers=MappingProxyType(providers),
        state=MappingProxyType(state),
        variables=MappingProxyType(variables),
        drift_ignore=rules,
        paths=paths,
        adopt_existing=bool(data.get("adopt_existing", True)),
        guardrails=_guardrails(data.get("guardrails") or {}),
        secrets=_secrets(data),
        defaults=tuple(
            parse_default({**d}, doc.location(f"defaults.{i}"), lambda p, i=i: doc.location(f"defaults.{i}.{p.removeprefix('spec.')}"))
            for i, d in enumerate(data.get("defaults") or [])
        ),
        environment=selection.environment,
        var_files=selection.var_files,
        warnings=tuple(
            f"providers.{name}: the endpoint is plain HTTP on another machine (allow_insecure_http: true): its "
            "credentials and data cross the network unencrypted"
            for name, settings in providers.items()
            if settings.allow_insecure_http and plain_http_off_this_machine(settings.endpoint)
        ),
    )


def _in_environment(doc: SourceDocument, name: str | None) -> SourceDocument:
    """The workspace document as the environment ``name`` sees it (lines follow the values)."""
    environments = doc.value.get("environments") or {}
    if name is None:
        return doc
    if name not in environments:
        known = ", ".join(sorted(environments)) or "none are defined"
        hint = schemacheck.did_you_mean(name, environments)
        raise WorkspaceError(f"no environment '{name}' in {WORKSPACE_FILE}{hint} (environments: {known})",
                             location=doc.location("environments"))
    block = environments[name] or {}
    data = dict(doc.value)
    lines = dict(doc.lines)
    prefix = f"environments.{name}"

    def moved(target: str, source: str) -> None:
        for path, line in doc.lines.items():
            if path == source or path.startswith(source + "."):
                lines[target + path[len(source):]] = line

    if "variables" in block:
        data["variables"] = {**(data.get("variables") or {}), **block["variables"]}
        for key in block["variables"]:
            moved(f"variables.{key}", f"{prefix}.variables.{key}")
    if "providers" in block:
        providers = {k: dict(v) for k, v in (data.get("providers") or {}).items()}
        for pname, settings in block["providers"].items():
            providers[pname] = {**providers.get(pname, {}), **(settings or {})}
            for key in settings or {}:
                moved(f"providers.{pname}.{key}", f"{prefix}.providers.{pname}.{key}")
        data["providers"] = providers
    data["state"] = block.get("state") or _environment_state(data.get("state") or {}, name)
    if "state" in block:
        moved("state", f"{prefix}.state")
    if "defaults" in block:
        data["defaults"] = [*(data.get("defaults") or []), *block["defaults"]]
    return SourceDocument(doc.file, doc.line, data, lines, doc.plain)


def _environment_state(state: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The file's state settings for the environment ``name`` when it names none: its own file
    (``.reconciler/<name>/state.json``) or, in a shared database, its own key (``<key>/<name>``)."""
    if state.get("backend") == "postgres":
        return {**state, "workspace": f"{state.get('workspace', 'default')}/{name}"}
    return {**state, "path": f".reconciler/{name}/state.json"}


def _extra_variables(
    selection: Selection, declared: Mapping[str, Any], sensitive: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Variables of ``--var-file`` files (YAML or JSON mappings), then of ``--var NAME=VALUE``.

    A ``--var`` must name a variable declared in ``reconciler.yaml`` (or given by a var file): a
    misspelt one would otherwise override nothing. Its text takes the declared value's type
    (``--var bid_ceiling=2`` is the number 2 where ``bid_ceiling: 6`` is declared), as Terraform
    types ``-var`` by the variable's declaration. Values of ``sensitive`` names are never echoed."""
    out: dict[str, Any] = {}
    for file in selection.var_files:
        path = file if file.is_absolute() else Path.cwd() / file
        display = str(file)
        if not path.is_file():
            raise WorkspaceError(f"--var-file {display}: no such file")
        docs = [d for d in load_documents(read_text(path, display), display) if d is not None]
        if len(docs) != 1 or not isinstance(docs[0].value, dict):
            raise WorkspaceError(f"--var-file {display}: expected one mapping of variable names to values",
                                 location=Location(display, 1))
        out.update(docs[0].value)
    known = {**declared, **out}
    for name, text in selection.variables.items():
        if name not in known:
            hint = schemacheck.did_you_mean(name, known)
            raise WorkspaceError(f"--var {name}: no variable '{name}' is declared in {WORKSPACE_FILE}'s variables "
                                 f"or a --var-file{hint}")
        out[name] = _typed_like(known[name], name, text, secret=name in sensitive)
    return out


def _typed_like(declared: Any, name: str, text: Any, *, secret: bool = False) -> Any:
    """``text`` (a ``--var`` value) in the type of the declared value (text when that is text)."""
    if not isinstance(text, str) or isinstance(declared, str) or declared is None:
        return text
    try:
        if isinstance(declared, bool):
            return {"true": True, "false": False}[text.strip().lower()]
        if isinstance(declared, int):
            return int(text)
        if isinstance(declared, float):
            return float(text)
    except (KeyError, ValueError):
        wanted = "true or false" if isinstance(declared, bool) else "a number"
        given, example = ("(sensitive)", "(sensitive)") if secret else (text, repr(declared))
        raise WorkspaceError(f"--var {name}={given}: expected {wanted}, like the declared value {example}") from None
    return text


def _secrets(data: Mapping[str, Any]) -> Secrets:
    """Every env name a credential or the state database's ``url`` is read from, the
    ``sensitive:`` list, and the variables whose value reads one of them. A name in
    ``sensitive:`` is also a workspace variable's (one a ``--var-file`` gives, say)."""
    marked = set(data.get("sensitive") or ())
    names = {
        name
        for block in (data.get("providers") or {}).values()
        if isinstance(block, Mapping)
        for text in (block.get("credentials") or {}).values()
        if isinstance(text, str) and (name := env_reference(text))
    } | marked
    state = data.get("state")
    url = state.get("url") if isinstance(state, Mapping) else None
    if isinstance(url, str):  # the state database's connection string is a secret too
        names |= env_names(url)
    raw_variables = data.get("variables") or {}
    tainted = {k for k, v in raw_variables.items() if env_names(v) & names} | marked
    return Secrets(env=frozenset(names), variables=frozenset(tainted))


def _guardrails(block: Mapping[str, Any]) -> GuardrailPolicy:
    """``guardrails:`` (already checked by the schema): percentages become fractions."""
    raise_limit = block.get("max_budget_increase")
    if isinstance(raise_limit, str):
        raise_limit = raise_limit.strip().removesuffix("%")
    max_bid = block.get("max_bid")
    return GuardrailPolicy(
        max_budget_increase=None if raise_limit is None else Decimal(str(raise_limit)) / 100,
        max_bid=None if max_bid is None else Decimal(str(max_bid)),
    )


def _check_credentials(doc: SourceDocument) -> None:
    """Credentials must be exactly ``${env:NAME}``; never echo what was written instead."""
    providers = doc.value.get("providers")
    if not isinstance(providers, dict):
        return
    for name, block in sorted(providers.items()):
        if not isinstance(block, dict) or "credentials" not in block:
            continue
        where = f"providers.{name}.credentials"
        credentials = block["credentials"]
        if not isinstance(credentials, dict):
            raise WorkspaceError(
                'credentials must be a mapping of name: "${env:NAME}" (secrets never live in git)',
                location=doc.location(where),
                path=where,
            )
        for key, value in sorted(credentials.items()):
            if not (isinstance(value, str) and env_reference(value)):
                raise WorkspaceError(
                    'a literal credential is not allowed; write "${env:NAME}" and set NAME in the '
                    "environment (secrets never live in git)",
                    location=doc.location(f"{where}.{key}"),
                    path=f"{where}.{key}",
                )


_URL_PASSWORD = re.compile(r"://[^/@?#]*:[^/@?#]*@|(?:^|\s)password\s*=|[?&]password=", re.IGNORECASE)


def literal_password(url: str) -> bool:
    """Whether a connection string written out (not ``${env:NAME}``) holds a password."""
    return env_reference(url) is None and bool(_URL_PASSWORD.search(url))


def _check_state_url(doc: SourceDocument) -> None:
    """A state database's password never lives in git: ``url`` with one must be ``${env:NAME}``."""
    state = doc.value.get("state")
    url = state.get("url") if isinstance(state, dict) else None
    if isinstance(url, str) and literal_password(url):
        raise WorkspaceError(
            'a connection string with a password is not allowed here; write url: "${env:RECONCILER_PG_URL}" and '
            "set RECONCILER_PG_URL in the environment (or leave the password to PGPASSWORD / ~/.pgpass)",
            location=doc.location("state.url"),
            path="state.url",
        )


def _check_schema(doc: SourceDocument) -> None:
    validator = schemacheck.packaged_validator("workspace.schema.json")
    error = schemacheck.pick(validator.iter_errors(doc.value))
    if error is None:
        return
    path = schemacheck.field_path(error)
    redact = "credentials" in path.split(".") or path == "state.url"
    if error.validator == "additionalProperties" and not error.absolute_path:
        allowed = ", ".join(sorted(validator.schema["properties"]))
        keys = ", ".join(repr(k) for k in schemacheck.unexpected_keys(error))
        text = f"unknown top-level key {keys} (allowed: {allowed})"
    else:
        text = schemacheck.message(error, redact=redact or _contains_credentials(error.instance))
    raise WorkspaceError(text, location=doc.location(path), path=path)


def _contains_credentials(value: Any) -> bool:
    if isinstance(value, dict):
        return "credentials" in value or any(_contains_credentials(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_credentials(v) for v in value)
    return False


def _provider(
    doc: SourceDocument,
    name: str,
    block: Mapping[str, Any],
    env: Mapping[str, str],
    variables: Mapping[str, Any],
    resolve_credentials: bool,
) -> ProviderSettings:
    where = f"providers.{name}"
    credentials: dict[str, str] = {}
    if resolve_credentials:
        for key, text in sorted(block.get("credentials", {}).items()):
            at = f"{where}.credentials.{key}"
            value = interpolate_string(text, env=env, variables=None, location=doc.location(at), path=at)
            credentials[key] = str(value)
    rest = {k: v for k, v in block.items() if k != "credentials"}
    rest = interpolate_tree(rest, env=env, variables=variables, locate=doc.location, path=where)
    endpoint = rest.pop("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise WorkspaceError(
            "endpoint must be a URL or 'sandbox'",
            location=doc.location(f"{where}.endpoint"),
            path=f"{where}.endpoint",
        )
    third_party = rest.get("factory") is not None  # a provider of its own may use any scheme
    if endpoint != "sandbox" and not third_party and not endpoint.startswith(("http://", "https://")):
        raise WorkspaceError(
            f"endpoint '{endpoint}' is neither an http(s) URL nor 'sandbox'",
            location=doc.location(f"{where}.endpoint"),
            path=f"{where}.endpoint",
        )
    insecure = rest.pop("allow_insecure_http", False) is True
    if plain_http_off_this_machine(endpoint) and not insecure:
        raise WorkspaceError(
            f"endpoint '{_origin(endpoint)}' is plain http:// on another machine: the credentials would cross the network "
            "unencrypted; use https://, or set 'allow_insecure_http: true' in this provider block for a network "
            "you trust",
            location=doc.location(f"{where}.endpoint"),
            path=f"{where}.endpoint",
        )
    factory = rest.pop("factory", None)
    return ProviderSettings(
        name=name,
        endpoint=endpoint,
        credentials=MappingProxyType(credentials),
        options=MappingProxyType(dict(sorted(rest.items()))),
        factory=factory,
        location=doc.location(where),
        allow_insecure_http=insecure,
    )


def _origin(endpoint: str) -> str:
    """``scheme://host[:port]`` of an endpoint (never a user or password written in it)."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def plain_http_off_this_machine(endpoint: str) -> bool:
    """An ``http://`` endpoint whose host is not this machine's loopback (``127.0.0.0/8``,
    ``localhost``, ``::1``, where the sandbox runs)."""
    parts = urlsplit(endpoint)
    if parts.scheme.lower() != "http":
        return False
    host = (parts.hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True
