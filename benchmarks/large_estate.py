"""Large-estate benchmark (issue 8): plan, plan builder, rate-limited apply and state at scale.

Run ``python benchmarks/large_estate.py [--small] [--out benchmarks/results]`` (see
``benchmarks/README.md``, section "Large estate"). It starts one sandbox (a ``SandboxServer`` on
127.0.0.1 in a child process, every API request delayed by ``--latency-ms``, default 20), seeds
it with a MediaMath and a LiveRamp estate (the emulators' ``estate`` seeds), reads it back once to
write matching manifests (YAML) and state (the local backend's ``record_many``), then measures,
each in a fresh child process (peak memory = the child's ``ru_maxrss``):

1. ``plan`` with nothing to change (``reconciler.engine.Workspace.plan``): wall time, manifest
   loading and refresh times, client and sandbox CPU during the refresh, API requests (the
   sandbox's counters), peak memory; once with MediaMath's default XML and once with its JSON
   wire format;
2. the same plan with a per-object refresh: one read per managed object, 10 at a time (what
   Terraform does), implemented here as the reference (:func:`per_object_refresh`); once within
   MediaMath's rate limit (the sandbox enforces 40 req/s, burst 200, as MediaMath documents),
   once with every rate limit off;
3. the plan builder alone over N unchanged resources (no HTTP), against the same builder made to
   run deepdiff on every resource; also the comparison step on its own;
4. ``apply`` of N strategy updates with the MediaMath rate limit on: requests per second after
   the burst (and overall) against the limit, 429s seen, failed writes;
5. state file size per resource, load and save time.

It writes ``large_estate.json`` and ``large_estate.md`` (``large_estate_small.*`` with
``--small``) into ``--out``. The module's functions (``Sizes``, ``Sandbox``, ``build_estate``,
``measure_plan``...) are also what the small in-suite version (``tests/benchmarks``) runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from unittest import mock

import requests

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from reconciler.engine import Workspace  # noqa: E402
from reconciler.model import Address, LiveObject, Ref  # noqa: E402
from reconciler.state.base import ResourceState  # noqa: E402

MM_ENV = {"MM_USERNAME": "demo", "MM_PASSWORD": "demo-password", "MM_API_KEY": "demo-api-key"}
LR_ENV = {"LR_CLIENT_ID": "demo-client", "LR_CLIENT_SECRET": "demo-secret"}
ORG_ID = "100048"  # the MediaMath sandbox's default organisation ("ACME Org")


# -- sizes -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sizes:
    """How big the estate and each measurement are."""

    advertisers: int = 20
    campaigns: int = 1000
    budget_flights: int = 2000
    strategies: int = 10000
    cleanrooms: int = 100
    datasets: int = 2  # per clean room (one per data connection)
    partners: int = 2  # per clean room
    questions: int = 3  # per clean room (org-level questions, each added to every room)
    schedules: int = 3  # per clean room
    builder_resources: int = 100_000
    updates: int = 1000
    rate: float = 40.0
    burst: float = 200.0
    latency_ms: float = 20.0
    baseline_parallelism: int = 10

    @classmethod
    def small(cls) -> Sizes:
        return cls(
            advertisers=2, campaigns=10, budget_flights=20, strategies=150, cleanrooms=5,
            builder_resources=5000, updates=100, burst=20.0,
        )

    @property
    def mediamath_objects(self) -> int:  # + Organization and Agency
        return 2 + self.advertisers + self.campaigns + self.budget_flights + self.strategies

    @property
    def liveramp_objects(self) -> int:  # + the org-level data connections and questions
        per_room = 1 + self.datasets + self.partners + self.questions + self.schedules
        return self.datasets + self.questions + self.cleanrooms * per_room


# -- the sandbox (a child process) -----------------------------------------------------------------
class Sandbox:
    """A SandboxServer with the MediaMath and LiveRamp emulators on 127.0.0.1.

    By default in a child process, so the server's CPU time is not the measured process's;
    ``in_process`` serves it from a thread instead (the in-suite test).
    """

    def __init__(self, latency_ms: float = 0.0, *, in_process: bool = False) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.server: Any = None
        if in_process:
            from reconciler.sandbox import SandboxServer, create_sandbox

            self.server = SandboxServer(create_sandbox(":memory:", names=["mediamath", "liveramp"])).start()
            self.url = self.server.url
        else:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "_serve"],
                stdout=subprocess.PIPE,
                text=True,
                cwd=str(REPO),
            )
            assert self.process.stdout is not None
            line = self.process.stdout.readline()
            if not line.startswith("http://"):
                self.process.kill()
                raise RuntimeError(f"the sandbox did not start: {line!r}")
            self.url = line.strip()
        self.http = requests.Session()
        self.faults(latency_ms=latency_ms)

    def control(self, path: str, body: Any = None, method: str = "POST") -> Any:
        response = self.http.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=600)
        if response.status_code != 200:
            raise RuntimeError(f"{method} /_sandbox/{path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def faults(self, **settings: Any) -> None:
        self.control("faults", settings)

    def rate_limit(self, api: str, **settings: Any) -> None:
        self.control(f"rate-limits/{api}", settings)

    def cpu_seconds(self) -> float | None:
        """CPU time the sandbox process has used (Linux ``/proc``; None elsewhere or in-process)."""
        if self.process is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def clear_counters(self) -> None:
        self.control("counters", method="DELETE")

    def counters(self) -> dict[str, int]:
        routes: dict[str, int] = self.control("counters", method="GET")["routes"]
        return routes

    def close(self) -> None:
        self.http.close()
        if self.server is not None:
            self.server.stop()
            self.server.app.store.close()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve() -> None:
    """Child process: serve the sandbox, print its URL, run until terminated."""
    from reconciler.sandbox import SandboxServer, create_sandbox

    app = create_sandbox(":memory:", names=["mediamath", "liveramp"])
    server = SandboxServer(app)
    print(server.url, flush=True)
    server.serve_forever()


def count_requests(routes: Mapping[str, int]) -> dict[str, int]:
    """API requests per emulator (``mediamath``, ``liveramp``) and in total from the counters."""
    out = {"mediamath": 0, "liveramp": 0}
    for key, n in routes.items():
        api = key.split(" ", 1)[0]
        out[api] = out.get(api, 0) + n
    out["total"] = sum(v for k, v in out.items())
    return out


# -- the estate: sandbox seeds, manifests, state ---------------------------------------------------
# owned fields written into the manifests, per (provider, kind)
OWNED: dict[tuple[str, str], tuple[str, ...]] = {
    ("mediamath", "Organization"): ("name",),
    ("mediamath", "Agency"): ("organization_id", "name", "status"),
    ("mediamath", "Advertiser"): ("agency_id", "name", "domain", "ad_server_id", "vertical_id", "status"),
    ("mediamath", "Campaign"): (
        "advertiser_id", "name", "ad_server_id", "service_type", "start_date", "end_date", "goal_type",
        "goal_value", "total_budget", "use_mm_freq", "status",
    ),
    ("mediamath", "BudgetFlight"): ("campaign_id", "name", "start_date", "end_date", "total_budget"),
    ("mediamath", "Strategy"): (
        "campaign_id", "name", "type", "goal_type", "goal_value", "budget", "max_bid", "pacing_amount",
        "use_campaign_start", "use_campaign_end", "status",
    ),
    ("liveramp", "DataConnection"): ("name", "category", "data_type", "data_source", "configuration", "fields"),
    ("liveramp", "Question"): (
        "title", "description", "category", "tags", "output_format", "is_analytics", "queries", "data_types",
        "dimensions", "measures",
    ),
    ("liveramp", "Cleanroom"): ("name", "description", "type", "start_at", "parameters"),
    ("liveramp", "CleanroomDataset"): ("cleanroom_id", "data_connection_id", "partner_can_assign", "field_mappings", "filters"),
    ("liveramp", "CleanroomPartner"): ("cleanroom_id", "partner_admin_email"),
    ("liveramp", "CleanroomQuestion"): ("cleanroom_id", "question_id", "assignments", "permissions"),
    ("liveramp", "QuestionRunSchedule"): ("cleanroom_question_id", "name", "frequency", "days_of_week", "start"),
}
# spec fields holding the id of another managed object -> its kind
REF_FIELDS = {
    "organization_id": "Organization",
    "agency_id": "Agency",
    "advertiser_id": "Advertiser",
    "campaign_id": "Campaign",
    "cleanroom_id": "Cleanroom",
    "data_connection_id": "DataConnection",
    "question_id": "Question",
    "cleanroom_question_id": "CleanroomQuestion",
    "dataset_id": "CleanroomDataset",  # inside CleanroomQuestion.assignments
}
SLUG = {
    "Organization": "org", "Agency": "agency", "Advertiser": "adv", "Campaign": "cmp", "BudgetFlight": "flight",
    "Strategy": "str", "DataConnection": "conn", "Question": "q", "Cleanroom": "room", "CleanroomDataset": "ds",
    "CleanroomPartner": "partner", "CleanroomQuestion": "crq", "QuestionRunSchedule": "sched",
}
MM_KINDS = ("Organization", "Agency", "Advertiser", "Campaign", "BudgetFlight", "Strategy")
LR_KINDS = (
    "DataConnection", "Question", "Cleanroom", "CleanroomDataset", "CleanroomPartner", "CleanroomQuestion",
    "QuestionRunSchedule",
)


@dataclass
class Estate:
    """What :func:`build_estate` made: the workspace and the addresses per kind."""

    root: Path
    addresses: dict[str, list[str]] = field(default_factory=dict)  # "provider.Kind" -> addresses
    files: dict[str, Path] = field(default_factory=dict)  # address -> manifest file
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)  # address -> spec (with Refs)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.addresses.values())


def write_workspace(root: Path, url: str, sizes: Sizes) -> None:
    """``reconciler.yaml``: both providers on the sandbox; MediaMath's rate budget = the limit."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text(
        "apiVersion: reconciler/v1\n"
        "kind: Workspace\n"
        "paths: [manifests]\n"
        "providers:\n"
        "  mediamath:\n"
        f"    endpoint: {url}/mediamath\n"
        '    credentials: {username: "${env:MM_USERNAME}", password: "${env:MM_PASSWORD}", api_key: "${env:MM_API_KEY}"}\n'
        f"    rate_limit: {{rate: {sizes.rate:g}, burst: {sizes.burst:g}}}\n"
        '    format: "${env:BENCH_MEDIAMATH_FORMAT}"\n'
        "  liveramp:\n"
        f"    endpoint: {url}/liveramp\n"
        '    credentials: {client_id: "${env:LR_CLIENT_ID}", client_secret: "${env:LR_CLIENT_SECRET}"}\n'
        f"    token_cache_dir: {json.dumps(str(root / '.reconciler' / 'tokens'))}\n",
        encoding="utf-8",
    )


def workspace_env(root: Path, wire_format: str = "xml") -> dict[str, str]:
    """Credentials of the sandbox's demo users, and MediaMath's wire format (``xml`` | ``json``)."""
    return {
        **os.environ, **MM_ENV, **LR_ENV,
        "RECONCILER_CACHE_DIR": str(root / ".reconciler" / "cache"),
        "BENCH_MEDIAMATH_FORMAT": wire_format,
    }


def seed_estate(sandbox: Sandbox, sizes: Sizes) -> dict[str, list[str]]:
    """Seed both emulators; the remote ids per kind, parents first."""
    mm = sandbox.control("seed", {"api": "mediamath", "name": "estate", "data": {
        "agencies": 1, "advertisers": sizes.advertisers, "campaigns": sizes.campaigns,
        "strategies": sizes.strategies, "budget_flights": sizes.budget_flights, "organization_id": int(ORG_ID),
    }})["created"]
    lr = sandbox.control("seed", {"api": "liveramp", "name": "estate", "data": {
        "cleanrooms": sizes.cleanrooms, "data_connections": sizes.datasets, "questions": sizes.questions,
        "partners": sizes.partners, "schedules": sizes.schedules,
    }})
    rooms = lr["cleanrooms"]
    return {
        "mediamath.Organization": [ORG_ID],
        "mediamath.Agency": [str(i) for i in mm["agencies"]],
        "mediamath.Advertiser": [str(i) for i in mm["advertisers"]],
        "mediamath.Campaign": [str(i) for i in mm["campaigns"]],
        "mediamath.BudgetFlight": [str(i) for i in mm["budget_flights"]],
        "mediamath.Strategy": [str(i) for i in mm["strategies"]],
        "liveramp.DataConnection": list(lr["data_connections"]),
        "liveramp.Question": list(lr["questions"]),
        "liveramp.Cleanroom": [r["id"] for r in rooms],
        "liveramp.CleanroomDataset": [d for r in rooms for d in r["datasets"]],
        "liveramp.CleanroomPartner": [f"{r['id']}:{i}" for r in rooms for i in r["invitations"]],
        "liveramp.CleanroomQuestion": [c for r in rooms for c in r["crqs"]],
        "liveramp.QuestionRunSchedule": [f"{s['crq']}:{s['id']}" for r in rooms for s in r["schedules"]],
    }


def _to_refs(value: Any, field_name: str, addresses: Mapping[tuple[str, str, str], str], provider: str) -> Any:
    """A live value with ids of managed objects replaced by ``{ref: ...}`` (Ref values)."""
    kind = REF_FIELDS.get(field_name)
    if kind is not None and isinstance(value, str):
        address = addresses.get((provider, kind, value))
        if address is not None:
            return Ref(Address.parse(address))
        return value
    if isinstance(value, Mapping):
        return {k: _to_refs(v, k, addresses, provider) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_refs(v, field_name, addresses, provider) for v in value]
    return value


def _yaml(value: Any, indent: int) -> str:
    """Block YAML for a spec value: mappings as blocks, refs as ``{ref: ...}``, JSON scalars."""
    pad = "  " * indent
    if isinstance(value, Ref):
        return " {ref: " + f"{value.target.kind}/{value.target.name}" + "}"
    if isinstance(value, Mapping):
        if not value:
            return " {}"
        return "".join(f"\n{pad}{json.dumps(k)}:{_yaml(v, indent + 1)}" for k, v in value.items())
    if isinstance(value, list):
        if not value:
            return " []"
        out = []
        for item in value:
            text = _yaml(item, indent + 1)
            if isinstance(item, Mapping) and item:
                first, _, rest = text.lstrip("\n").partition("\n")
                out.append(f"\n{pad}- {first.strip()}" + (f"\n{rest}" if rest else ""))
            else:
                out.append(f"\n{pad}-{text}")
        return "".join(out)
    return " " + json.dumps(value)


def manifest_text(address: str, spec: Mapping[str, Any]) -> str:
    target = Address.parse(address)
    body = "".join(f"\n  {k}:{_yaml(v, 2)}" for k, v in spec.items())
    return (
        f"---\napiVersion: {target.provider}/v1\nkind: {target.kind}\nmetadata:\n  name: {target.name}\nspec:{body}\n"
    )


def _manifest_file(root: Path, address: str, spec: Mapping[str, Any], parents: Mapping[str, str]) -> Path:
    """Group documents: MediaMath per advertiser, LiveRamp per clean room, the rest together."""
    target = Address.parse(address)
    base = root / "manifests" / target.provider
    owner = address
    while owner in parents:  # walk up to the advertiser / clean room
        owner = parents[owner]
        kind = Address.parse(owner).kind
        if kind in ("Advertiser", "Cleanroom"):
            return base / f"{Address.parse(owner).name}.yaml"
    if target.kind in ("Advertiser", "Cleanroom"):
        return base / f"{target.name}.yaml"
    return base / "shared.yaml"


def build_estate(sandbox: Sandbox, sizes: Sizes, root: Path) -> Estate:
    """Seed the sandbox and write matching manifests and state under ``root``.

    The live objects are read once (batched) to take each object's owned fields, version and
    fingerprint, exactly as an import or an apply would record them.
    """
    ids = seed_estate(sandbox, sizes)
    write_workspace(root, sandbox.url, sizes)
    workspace = Workspace(start=root, env=workspace_env(root))
    try:
        live: dict[str, dict[str, LiveObject]] = {}
        for key, remote_ids in ids.items():
            provider, kind = key.split(".")
            live[key] = workspace.provider(provider).read(kind, remote_ids)
            missing = sorted(set(remote_ids) - set(live[key]))
            if missing:
                raise RuntimeError(f"{key}: {len(missing)} seeded objects were not read back, e.g. {missing[:3]}")
        estate = Estate(root)
        by_id: dict[tuple[str, str, str], str] = {}
        for key, remote_ids in ids.items():
            provider, kind = key.split(".")
            names = [f"{SLUG[kind]}-{n:05d}" for n in range(1, len(remote_ids) + 1)]
            estate.addresses[key] = [f"{key}/{name}" for name in names]
            for remote_id, address in zip(remote_ids, estate.addresses[key], strict=True):
                by_id[(provider, kind, remote_id)] = address
        remote_of = {address: remote_id for (_, _, remote_id), address in by_id.items()}
        records: list[ResourceState] = []
        parents: dict[str, str] = {}
        for key, remote_ids in ids.items():
            provider, kind = key.split(".")
            info = workspace.provider(provider).kinds[kind]
            for remote_id, address in zip(remote_ids, estate.addresses[key], strict=True):
                obj = live[key][remote_id]
                spec = {f: _to_refs(obj.fields[f], f, by_id, provider) for f in OWNED[(provider, kind)] if f in obj.fields}
                estate.specs[address] = spec
                refs = sorted({str(r.target) for r in _iter_refs(spec)})
                if info.parent_field and isinstance(spec.get(info.parent_field), Ref):
                    parents[address] = str(spec[info.parent_field].target)
                resolved = {f: _to_ids(v, remote_of) for f, v in spec.items()}
                records.append(ResourceState(
                    address=address, provider=provider, kind=kind, remote_id=remote_id, applied_spec=resolved,
                    fingerprint=obj.fingerprint, version=obj.version,
                    parent_ids={info.parent_field: str(resolved[info.parent_field])}
                    if info.parent_field and info.parent_field in resolved else {},
                    dependencies=tuple(refs), status=obj.status,
                ))
        texts: dict[Path, list[str]] = {}
        for address, spec in estate.specs.items():
            path = _manifest_file(root, address, spec, parents)
            estate.files[address] = path
            texts.setdefault(path, []).append(manifest_text(address, spec))
        for path, docs in texts.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(docs), encoding="utf-8")
        state: Any = workspace.state  # the local backend: one journal append with a single fsync
        state.record_many(records)
        compact = getattr(workspace.state, "compact", None)
        if callable(compact):
            compact()
        return estate
    finally:
        workspace.close()


def _iter_refs(value: Any) -> Iterator[Ref]:
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _iter_refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _iter_refs(v)


def _to_ids(value: Any, ids: Mapping[str, str]) -> Any:
    """A spec with every Ref replaced by its target's remote id (what state records)."""
    if isinstance(value, Ref):
        return ids[str(value.target)]
    if isinstance(value, Mapping):
        return {k: _to_ids(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_ids(v, ids) for v in value]
    return value


def write_manifests(estate: Estate, addresses: Sequence[str] = ()) -> None:
    """(Re)write the manifest files holding ``addresses`` (all files when empty)."""
    paths = {estate.files[a] for a in addresses} if addresses else set(estate.files.values())
    texts: dict[Path, list[str]] = {path: [] for path in paths}
    for address, spec in estate.specs.items():
        path = estate.files[address]
        if path in texts:
            texts[path].append(manifest_text(address, spec))
    for path, docs in texts.items():
        path.write_text("".join(docs), encoding="utf-8")


def change_strategies(estate: Estate, count: int) -> list[str]:
    """Raise the budget of the first ``count`` strategies in the manifests; their addresses."""
    chosen = estate.addresses["mediamath.Strategy"][:count]
    for address in chosen:
        spec = estate.specs[address]
        spec["budget"] = round(float(spec.get("budget") or 0) + 250.5, 2)
    write_manifests(estate, chosen)
    return chosen


# -- measurements (each normally in a child process) -----------------------------------------------
def peak_rss_mb() -> float:
    """Peak resident memory of this process (MB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


class _TimedWorkspace(Workspace):
    """A Workspace that times its phases (and can swap the refresh for the baseline's)."""

    timings: dict[str, float]
    refresher: Callable[..., Any] | None

    def desired(self, paths: Sequence[Path] = ()) -> Any:
        start = time.perf_counter()
        try:
            return super().desired(paths)
        finally:
            self.timings["load_manifests_s"] = round(time.perf_counter() - start, 3)

    def refresh(self, snapshot: Any, addresses: Any = None) -> Any:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            if self.refresher is not None:
                return self.refresher(self, snapshot, addresses)
            return super().refresh(snapshot, addresses)
        finally:
            self.timings["refresh_s"] = round(time.perf_counter() - start, 3)
            self.timings["refresh_cpu_s"] = round(time.process_time() - cpu, 3)


def per_object_refresh(parallelism: int) -> Callable[..., Any]:
    """The reference refresh: one read per managed object, ``parallelism`` at a time.

    Each object costs the GET(s) the API offers for it alone: MediaMath ``?q=(id)`` (one GET);
    LiveRamp the object's own URL, plus the field configuration of a data connection and the
    dataset and permission lists of a clean-room question; an invitation has no URL of its own,
    so its clean room's list is read once per invitation.
    """

    def refresh(ws: Workspace, snapshot: Any, addresses: Any = None) -> Any:
        items = [rs for a, rs in sorted(snapshot.resources.items()) if addresses is None or a in addresses]
        for name in sorted({rs.provider for rs in items}):
            ws.provider(name)  # built (and logged in) once, before the threads start

        def read(rs: ResourceState) -> tuple[str, LiveObject | None]:
            return rs.address, read_single(ws, rs)

        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            return dict(pool.map(read, items))

    return refresh


def read_single(ws: Workspace, rs: ResourceState) -> LiveObject | None:
    """One object, read the way a per-object refresh reads it (see :func:`per_object_refresh`)."""
    from reconciler.errors import NotFoundError

    provider: Any = ws.provider(rs.provider)
    if rs.provider == "mediamath":
        live: LiveObject | None = provider.read(rs.kind, [rs.remote_id]).get(rs.remote_id)
        return live
    kind = provider.kind(rs.kind)
    client = provider.client
    try:
        if rs.kind == "Cleanroom":
            return kind._live(client.get(f"/cleanrooms/{rs.remote_id}"))  # type: ignore[no-any-return]
        if rs.kind == "DataConnection":
            return kind._with_fields(client.get(f"/data-connections/{rs.remote_id}"))  # type: ignore[no-any-return]
        if rs.kind == "CleanroomDataset":
            room = rs.parent_ids.get("cleanroom_id") or rs.applied_spec["cleanroom_id"]
            return kind._live(client.get(f"/cleanrooms/{room}/datasets/{rs.remote_id}"))  # type: ignore[no-any-return]
        if rs.kind == "CleanroomQuestion":
            return kind._load(client.get(f"/cleanroom-questions/{rs.remote_id}"))  # type: ignore[no-any-return]
        if rs.kind == "QuestionRunSchedule":
            crq, schedule = rs.remote_id.split(":", 1)
            raw = client.get(f"/cleanroom-questions/{crq}/cleanroom-question-run-schedules/{schedule}")
            return kind._live(crq, raw)  # type: ignore[no-any-return]
    except NotFoundError:
        return None
    live = provider.read(rs.kind, [rs.remote_id]).get(rs.remote_id)  # Question, CleanroomPartner: one GET
    return live


def _counters(url: str, http: requests.Session, clear: bool = False) -> dict[str, int]:
    if clear:
        http.delete(f"{url}/_sandbox/counters", timeout=60)
        return {}
    routes: dict[str, int] = http.get(f"{url}/_sandbox/counters", timeout=60).json()["routes"]
    return routes


def measure_plan(
    root: Path, sandbox_url: str, *, baseline: bool = False, parallelism: int = 10, unthrottled: bool = False,
    wire_format: str = "xml",
) -> dict[str, Any]:
    """A plan of the estate: wall time, its phases, API requests (sandbox counters), actions."""
    http = requests.Session()
    _counters(sandbox_url, http, clear=True)
    ws = _TimedWorkspace(start=root, env=workspace_env(root, wire_format))
    ws.timings = {}
    ws.refresher = per_object_refresh(parallelism) if baseline else None
    if unthrottled:  # the baseline with no client-side rate budget at all (the sandbox's is off too)
        from reconciler.providers.http import TokenBucket

        for name in ("mediamath", "liveramp"):
            http_client = ws.provider(name).client.http  # type: ignore[attr-defined]
            http_client.bucket = TokenBucket(0)
    start = time.perf_counter()
    try:
        plan, desired = ws.plan()
    finally:
        wall = time.perf_counter() - start
        ws.close()
    routes = _counters(sandbox_url, http)
    return {
        "mode": ("per-object" + (", no rate limit" if unthrottled else "")) if baseline else "reconciler",
        "mediamath_format": wire_format,
        "resources": len(desired),
        "wall_s": round(wall, 3),
        **ws.timings,
        "requests": count_requests(routes),
        "routes": routes,
        "actions": plan.counts(),
        "drift": len(plan.drift),
    }


def _builder_inputs(n: int) -> tuple[Any, Any]:
    """``n`` unchanged MediaMath resources (1 campaign per 100 strategies) as PlanInput parts."""
    from reconciler.errors import Location
    from reconciler.model import DesiredResource
    from reconciler.plan.builder import ProviderView
    from reconciler.providers.base import ProviderConfig
    from reconciler.providers.mediamath import MediaMathProvider
    from reconciler.state.base import StateSnapshot

    provider = MediaMathProvider(ProviderConfig("mediamath", "https://api.mediamath.invalid", {"access_token": "x"}))
    campaigns = max(1, n // 100)
    desired: list[DesiredResource] = []
    resources: dict[str, ResourceState] = {}
    live: dict[str, LiveObject] = {}
    for i in range(n):
        if i < campaigns:
            kind, remote_id = "Campaign", str(300000 + i)
            spec: dict[str, Any] = {
                "advertiser_id": "200000", "name": f"Campaign {i}", "ad_server_id": 9, "service_type": "SELF",
                "start_date": "2025-01-01T00:00:00Z", "end_date": "2027-12-31T23:59:59Z", "goal_type": "cpc",
                "goal_value": 1, "total_budget": 100000, "use_mm_freq": False, "status": False,
            }
            resolved = spec
        else:
            kind, remote_id = "Strategy", str(1000000 + i)
            parent = f"mediamath.Campaign/cmp-{i % campaigns:05d}"
            spec = {
                "campaign_id": Ref(Address.parse(parent)), "name": f"Strategy {i}", "type": "GBO", "goal_type": "cpc",
                "goal_value": 1, "budget": 1000 + i % 7, "max_bid": 5, "pacing_amount": 100,
                "use_campaign_start": True, "use_campaign_end": True, "status": False,
            }
            resolved = {**spec, "campaign_id": str(300000 + i % campaigns)}
        address = f"mediamath.{kind}/{SLUG[kind]}-{i:05d}"
        desired.append(DesiredResource(Address.parse(address), spec, Location("bench.yaml", 1)))
        fields = provider.normalize(kind, resolved)
        live[address] = LiveObject(kind, remote_id, fields, version=3)
        resources[address] = ResourceState(address, "mediamath", kind, remote_id, resolved, live[address].fingerprint, 3)
    state = StateSnapshot("bench-lineage", 1, resources)
    for d in desired:  # as the loader hands them over: its reference check has read both already
        _ = d.ref_keys, str(d.address)
    return (desired, state, live, {"mediamath": ProviderView.of(provider)}), provider


def _deepdiff_compare(template: Any, live_fields: Any, differ: Any, keyed: Any = None) -> Any:
    """``diff.compare_owned`` without its equality fast path: deepdiff on every resource."""
    from deepdiff import DeepDiff

    from reconciler.diff import project

    projected = project(live_fields, template)
    differ.deepdiff_calls += 1
    if not DeepDiff(projected, template, view="tree", ignore_numeric_type_changes=True):
        return projected, ()
    return projected, differ.changes(projected, template, keyed or {})


def measure_builder(n: int, *, baseline: bool = False) -> dict[str, Any]:
    """The plan builder alone over ``n`` unchanged resources (no HTTP).

    ``baseline`` makes the builder run deepdiff on every resource (no equality fast path).
    """
    import gc

    import reconciler.plan.builder as builder_module
    from reconciler.diff import FieldDiffer, compare_owned
    from reconciler.plan.builder import PlanInput, build_plan

    t0 = time.perf_counter()
    (desired, state, live, views), provider = _builder_inputs(n)
    inputs_s = time.perf_counter() - t0
    rss_inputs = peak_rss_mb()
    compare = _deepdiff_compare if baseline else compare_owned
    differ = FieldDiffer()
    gc.collect()
    with mock.patch.object(builder_module, "compare_owned", compare):
        start = time.perf_counter()
        plan = build_plan(PlanInput(desired=desired, state=state, live=live, found={}, providers=views, differ=differ))
        elapsed = time.perf_counter() - start
    # the comparison step on its own: owned template vs live fields, every resource
    pairs = []
    for d in desired:
        rs = state.resources[str(d.address)]
        pairs.append((provider.normalize(d.address.kind, rs.applied_spec), live[str(d.address)].fields))
    provider.close()
    step_differ = FieldDiffer()
    start = time.perf_counter()
    for template, fields in pairs:
        compare(template, fields, step_differ)
    compare_s = time.perf_counter() - start
    return {
        "mode": "deepdiff on every resource" if baseline else "reconciler (equality fast path)",
        "resources": n,
        "build_s": round(elapsed, 3),
        "compare_only_s": round(compare_s, 3),
        "inputs_s": round(inputs_s, 3),
        "deepdiff_calls": differ.deepdiff_calls,
        "actions": plan.counts(),
        "rss_inputs_mb": rss_inputs,
    }


def measure_state(root: Path) -> dict[str, Any]:
    """State file size per resource; load (fresh backend) and save (atomic rewrite) times."""
    from reconciler.state.local import LocalBackend

    path = root / ".reconciler" / "state.json"
    size = path.stat().st_size
    start = time.perf_counter()
    backend = LocalBackend(path)
    snapshot = backend.read()
    load_s = time.perf_counter() - start
    count = len(snapshot.resources)
    start = time.perf_counter()
    backend.compact()
    save_s = time.perf_counter() - start
    largest = max((len(json.dumps(rs.to_json(), separators=(",", ":"))) for rs in snapshot.resources.values()), default=0)
    return {
        "resources": count,
        "file_bytes": size,
        "bytes_per_resource": round(size / max(1, count), 1),
        "largest_resource_bytes": largest,
        "load_s": round(load_s, 3),
        "save_s": round(save_s, 3),
    }


def measure_apply(root: Path, sandbox_url: str, *, updates: int, burst: float) -> dict[str, Any]:
    """Plan and apply ``updates`` strategy changes; the request rate the apply achieved."""
    from reconciler.apply import ApplyOptions

    sent: list[tuple[float, str, str]] = []  # (monotonic time, method, url) of every HTTP attempt
    original = requests.Session.request
    lock = threading.Lock()

    def recording(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        with lock:
            sent.append((time.monotonic(), method.upper(), str(url)))
        return original(self, method, url, *args, **kwargs)

    recorder = mock.patch.object(requests.Session, "request", recording)
    recorder.start()
    http = requests.Session()
    _counters(sandbox_url, http, clear=True)
    ws = Workspace(start=root, env=workspace_env(root))
    try:
        t0 = time.perf_counter()
        plan, _ = ws.plan()
        plan_s = time.perf_counter() - t0
        planned = plan.counts()
        provider: Any = ws.provider("mediamath")
        stats_before = provider.stats()
        first = len(sent)
        t1 = time.perf_counter()
        result = ws.apply(plan, ApplyOptions())
        apply_s = time.perf_counter() - t1
        stats_after = provider.stats()
    finally:
        ws.close()
        recorder.stop()
    routes = _counters(sandbox_url, http)
    outcomes: dict[str, int] = {}
    for r in result.results:
        outcomes[r.outcome.value] = outcomes.get(r.outcome.value, 0) + 1
    mm = [t for t, _, url in sent[first:] if "/mediamath/" in url]
    writes = [t for t, method, url in sent[first:] if "/mediamath/" in url and method == "POST"]
    rate = sustained = 0.0
    if len(mm) > 1:
        duration = max(1e-9, mm[-1] - mm[0])
        rate = len(mm) / duration
        # what the refill paid for: a limiter of ``burst`` + ``rate``/s admits at most ``burst``
        # requests beyond ``rate`` x duration, so this cannot exceed the limit unless it was broken
        sustained = max(0.0, len(mm) - burst) / duration
    failed = sum(n for k, n in outcomes.items() if k not in ("done", "rebased"))
    return {
        "planned": planned,
        "plan_s": round(plan_s, 3),
        "apply_s": round(apply_s, 3),
        "outcomes": outcomes,
        "failed_writes": failed,
        "mediamath_requests": len(mm),
        "mediamath_writes": len(writes),
        "rate_overall_rps": round(rate, 2),
        "rate_sustained_rps": round(sustained, 2),
        "rate_limited_429": stats_after["rate_limited"] - stats_before["rate_limited"],
        "retries": stats_after["retries"] - stats_before["retries"],
        "error_budget": dict(result.error_budget),
        "sandbox_requests": count_requests(routes),
    }


# -- child processes ---------------------------------------------------------------------------------
def run_child(
    what: str, params: Mapping[str, Any], timeout: float = 7200, sandbox: Sandbox | None = None
) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its JSON result plus its peak memory (and the
    CPU time the sandbox spent meanwhile)."""
    before = sandbox.cpu_seconds() if sandbox is not None else None
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "_measure", what, json.dumps(params)],
        capture_output=True, text=True, timeout=timeout, cwd=str(REPO),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"measurement {what} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    after = sandbox.cpu_seconds() if sandbox is not None else None
    if before is not None and after is not None:
        result["sandbox_cpu_s"] = round(after - before, 2)
    return result


def _measure(what: str, params: dict[str, Any]) -> None:
    if what == "plan":
        result = measure_plan(Path(params["root"]), params["url"], baseline=params.get("baseline", False),
                              parallelism=params.get("parallelism", 10), unthrottled=params.get("unthrottled", False),
                              wire_format=params.get("format", "xml"))
    elif what == "builder":
        result = measure_builder(params["n"], baseline=params.get("baseline", False))
    elif what == "state":
        result = measure_state(Path(params["root"]))
    elif what == "apply":
        result = measure_apply(Path(params["root"]), params["url"], updates=params["updates"], burst=params["burst"])
    else:
        raise SystemExit(f"unknown measurement {what!r}")
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result, sort_keys=True))


# -- the run -----------------------------------------------------------------------------------------
def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(sizes: Sizes, work: Path) -> dict[str, Any]:
    """Every measurement, in one sandbox; the results as one JSON-able dict."""
    results: dict[str, Any] = {
        "sizes": asdict(sizes),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        },
    }
    with Sandbox() as sandbox:
        t0 = time.perf_counter()
        estate = build_estate(sandbox, sizes, work / "workspace")
        results["estate"] = {
            "resources": estate.count,
            "per_kind": {k: len(v) for k, v in estate.addresses.items()},
            "manifest_files": len(set(estate.files.values())),
            "build_s": round(time.perf_counter() - t0, 1),
        }
        _log(f"estate: {estate.count} resources in {results['estate']['build_s']}s")
        root = str(estate.root)
        # MediaMath documents 40 req/s (burst 200): the emulator's default limit, on for plans too
        limit = {"rate": sizes.rate, "burst": sizes.burst, "max_concurrent_writes": 150}
        sandbox.rate_limit("mediamath", **limit)
        sandbox.faults(latency_ms=sizes.latency_ms)
        plan = results["plan"] = {}
        plan["reconciler"] = run_child("plan", {"root": root, "url": sandbox.url}, sandbox=sandbox)
        _log(f"plan: {plan['reconciler']['wall_s']}s, {plan['reconciler']['requests']['total']} requests")
        plan["reconciler_json"] = run_child("plan", {"root": root, "url": sandbox.url, "format": "json"}, sandbox=sandbox)
        _log(f"plan, MediaMath JSON: {plan['reconciler_json']['wall_s']}s")
        plan["per_object"] = run_child("plan", {"root": root, "url": sandbox.url, "baseline": True,
                                                "parallelism": sizes.baseline_parallelism}, sandbox=sandbox)
        _log(f"per-object plan: {plan['per_object']['wall_s']}s, {plan['per_object']['requests']['total']} requests")
        sandbox.rate_limit("mediamath", rate=0)
        plan["per_object_unthrottled"] = run_child("plan", {
            "root": root, "url": sandbox.url, "baseline": True, "parallelism": sizes.baseline_parallelism,
            "unthrottled": True,
        }, sandbox=sandbox)
        _log(f"per-object plan, no rate limit: {plan['per_object_unthrottled']['wall_s']}s")
        results["state"] = run_child("state", {"root": root})
        _log(f"state: {results['state']['bytes_per_resource']} bytes per resource")
        changed = change_strategies(estate, sizes.updates)
        sandbox.rate_limit("mediamath", **limit)
        results["apply"] = run_child("apply", {"root": root, "url": sandbox.url, "updates": len(changed),
                                               "burst": sizes.burst}, sandbox=sandbox)
        results["apply"]["limit_rps"] = sizes.rate
        results["apply"]["burst"] = sizes.burst
        _log(f"apply: {results['apply']['rate_sustained_rps']} req/s sustained, {results['apply']['rate_limited_429']} 429s")
    builder = results["builder"] = {}
    builder["reconciler"] = run_child("builder", {"n": sizes.builder_resources})
    _log(f"builder: {builder['reconciler']['build_s']}s")
    builder["deepdiff_everything"] = run_child("builder", {"n": sizes.builder_resources, "baseline": True})
    _log(f"builder, deepdiff everything: {builder['deepdiff_everything']['build_s']}s")
    results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = targets(results)
    return results


def targets(r: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Issue 8's Done-when figures, each with its value and whether it holds."""
    ours, base, free = r["plan"]["reconciler"], r["plan"]["per_object"], r["plan"]["per_object_unthrottled"]
    b_ours, b_base = r["builder"]["reconciler"], r["builder"]["deepdiff_everything"]
    apply = r["apply"]
    speed = base["wall_s"] / max(1e-9, ours["wall_s"])
    return {
        "plan_requests_le_300": {"value": ours["requests"]["total"], "ok": ours["requests"]["total"] <= 300},
        "plan_10x_faster_than_per_object": {"value": round(speed, 1), "ok": speed >= 10},
        "plan_10x_faster_than_per_object_no_rate_limit": {
            "value": round(free["wall_s"] / max(1e-9, ours["wall_s"]), 1),
            "ok": free["wall_s"] / max(1e-9, ours["wall_s"]) >= 10,
        },
        "builder_20x_faster_than_deepdiff": {
            "value": round(b_base["build_s"] / max(1e-9, b_ours["build_s"]), 1),
            "ok": b_base["build_s"] / max(1e-9, b_ours["build_s"]) >= 20,
        },
        "builder_peak_memory_lt_1_5_gb": {"value": b_ours["peak_rss_mb"], "ok": b_ours["peak_rss_mb"] < 1536},
        "apply_85pct_of_rate": {
            "value": round(100 * apply["rate_sustained_rps"] / apply["limit_rps"], 1),
            "ok": apply["rate_sustained_rps"] >= 0.85 * apply["limit_rps"],
        },
        "apply_zero_failed_writes": {"value": apply["failed_writes"], "ok": apply["failed_writes"] == 0},
        "state_le_2kb_per_resource": {"value": r["state"]["bytes_per_resource"], "ok": r["state"]["bytes_per_resource"] <= 2048},
    }


def markdown(r: Mapping[str, Any]) -> str:
    """The results as Markdown tables."""
    s, e = r["sizes"], r["estate"]
    ours, base, free = r["plan"]["reconciler"], r["plan"]["per_object"], r["plan"]["per_object_unthrottled"]
    bo, bb = r["builder"]["reconciler"], r["builder"]["deepdiff_everything"]
    a, st, m = r["apply"], r["state"], r["machine"]

    def req(p: Mapping[str, Any]) -> str:
        q = p["requests"]
        return f"{q['total']:,} ({q['mediamath']:,} MM + {q['liveramp']:,} LR)"

    def ratio(x: float, y: float) -> str:
        return f"{x / max(1e-9, y):.1f}x"

    lines = [
        f"Estate: {e['resources']:,} managed objects ({s['strategies']:,} strategies, {s['budget_flights']:,} budget "
        f"flights, {s['campaigns']:,} campaigns, {s['advertisers']} advertisers, 1 agency, 1 organization; "
        f"{s['cleanrooms']} clean rooms with {s['datasets']} datasets, {s['partners']} partners, {s['questions']} "
        f"clean-room questions and {s['schedules']} schedules each, + their data connections and questions) in "
        f"{e['manifest_files']} manifest files. Sandbox latency {s['latency_ms']:g} ms per request; MediaMath rate "
        f"limit {s['rate']:g} req/s, burst {s['burst']:g}. Machine: {m['cpus']} CPUs, Python {m['python']}, load "
        f"average {m['loadavg_start'][0]} at start, {m['loadavg_end'][0]} at end.",
        "",
        "| No-change plan | wall | load manifests | refresh | refresh CPU, client / sandbox | HTTP requests | peak RSS | actions |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, p in (
        ("reconciler (batched, concurrent)", ours),
        ("reconciler, MediaMath JSON wire format", r["plan"]["reconciler_json"]),
        (f"per-object refresh, parallelism {s['baseline_parallelism']}, within the 40 req/s limit", base),
        (f"per-object refresh, parallelism {s['baseline_parallelism']}, no rate limit", free),
    ):
        acts = ", ".join(f"{k} {v:,}" for k, v in sorted(p["actions"].items()))
        server = f"{p['sandbox_cpu_s']:.1f} s" if p.get("sandbox_cpu_s") is not None else "n/a"
        lines.append(
            f"| {label} | {p['wall_s']:.1f} s | {p['load_manifests_s']:.1f} s | {p['refresh_s']:.1f} s | "
            f"{p['refresh_cpu_s']:.1f} s / {server} | {req(p)} | {p['peak_rss_mb']:.0f} MB | {acts} |"
        )
    lines += [
        "",
        f"Speed-up of the whole plan: {ratio(base['wall_s'], ours['wall_s'])} (rate-limited per-object), "
        f"{ratio(free['wall_s'], ours['wall_s'])} (unlimited per-object); of the refresh alone: "
        f"{ratio(base['refresh_s'], ours['refresh_s'])} and {ratio(free['refresh_s'], ours['refresh_s'])}.",
        "",
        f"| Plan builder, {bo['resources']:,} unchanged resources, no HTTP | build_plan | comparison step alone | deepdiff calls | peak RSS | RSS of the inputs alone |",
        "|---|---:|---:|---:|---:|---:|",
        f"| reconciler (equality fast path) | {bo['build_s']:.2f} s | {bo['compare_only_s']:.2f} s | {bo['deepdiff_calls']:,} | {bo['peak_rss_mb']:.0f} MB | {bo['rss_inputs_mb']:.0f} MB |",
        f"| deepdiff on every resource | {bb['build_s']:.2f} s | {bb['compare_only_s']:.2f} s | {bb['deepdiff_calls']:,} | {bb['peak_rss_mb']:.0f} MB | {bb['rss_inputs_mb']:.0f} MB |",
        "",
        f"Builder speed-up: {ratio(bb['build_s'], bo['build_s'])} (build_plan), "
        f"{ratio(bb['compare_only_s'], bo['compare_only_s'])} (comparison step alone).",
        "",
        f"| Apply, {a['mediamath_writes']:,} strategy updates | value |",
        "|---|---:|",
        f"| planned | {', '.join(f'{k} {v:,}' for k, v in sorted(a['planned'].items()))} |",
        f"| apply wall time | {a['apply_s']:.1f} s |",
        f"| MediaMath requests during apply | {a['mediamath_requests']:,} ({a['mediamath_writes']:,} writes) |",
        f"| sustained rate, (requests - burst) / duration | {a['rate_sustained_rps']:.1f} req/s = {100 * a['rate_sustained_rps'] / a['limit_rps']:.0f} % of {a['limit_rps']:g} req/s |",
        f"| overall rate, requests / duration (burst of {a['burst']:g} included) | {a['rate_overall_rps']:.1f} req/s |",
        f"| 429 answers seen | {a['rate_limited_429']} |",
        f"| failed writes | {a['failed_writes']} |",
        f"| peak RSS | {a['peak_rss_mb']:.0f} MB |",
        "",
        "| State | value |",
        "|---|---:|",
        f"| resources | {st['resources']:,} |",
        f"| state.json | {st['file_bytes'] / 1e6:.1f} MB = {st['bytes_per_resource']:.0f} bytes per resource (largest {st['largest_resource_bytes']:,}) |",
        f"| load (fresh backend, parse + check) | {st['load_s']:.2f} s |",
        f"| save (atomic rewrite + fsync) | {st['save_s']:.2f} s |",
        "",
        "| Issue 8 target | value | met |",
        "|---|---:|---|",
    ]
    labels = {
        "plan_requests_le_300": "no-change plan: at most 300 HTTP requests",
        "plan_10x_faster_than_per_object": "no-change plan: >= 10x faster than per-object (rate-limited)",
        "plan_10x_faster_than_per_object_no_rate_limit": "no-change plan: >= 10x faster than per-object (no rate limit)",
        "builder_20x_faster_than_deepdiff": "plan builder: >= 20x faster than deepdiff everywhere",
        "builder_peak_memory_lt_1_5_gb": "plan builder: peak memory < 1.5 GB (MB)",
        "apply_85pct_of_rate": "apply: >= 85 % of the rate limit sustained (%)",
        "apply_zero_failed_writes": "apply: zero failed writes",
        "state_le_2kb_per_resource": "state: <= 2 KB per resource (bytes)",
    }
    for key, t in r["targets"].items():
        lines.append(f"| {labels[key]} | {t['value']} | {'yes' if t['ok'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["_serve"]:
        _serve()
        return 0
    if args[:1] == ["_measure"]:
        _measure(args[1], json.loads(args[2]))
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="a few hundred objects: a smoke run in seconds")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results", help="where the results go")
    parser.add_argument("--latency-ms", type=float, default=None, help="added to every sandbox API request (default 20)")
    parser.add_argument("--keep", type=Path, default=None, help="build the workspace in this directory and keep it")
    opts = parser.parse_args(args)
    sizes = Sizes.small() if opts.small else Sizes()
    if opts.latency_ms is not None:
        sizes = replace(sizes, latency_ms=opts.latency_ms)
    work = opts.keep or Path(tempfile.mkdtemp(prefix="reconciler-estate-"))
    try:
        results = run(sizes, work)
    finally:
        if opts.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    opts.out.mkdir(parents=True, exist_ok=True)
    stem = "large_estate_small" if opts.small else "large_estate"
    (opts.out / f"{stem}.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    table = markdown(results)
    (opts.out / f"{stem}.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
