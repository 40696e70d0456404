"""Shared machinery of the reliability suite and ``benchmarks/soak.py``.

- :class:`LiveSandbox`: every emulator on one SandboxServer (127.0.0.1, port 0) in this process,
  behind a WSGI middleware that keeps a *write log* (sequence, principal, method, path) of every
  API write, so tests can tell which process wrote what and in which order. Principals are
  told apart by their credentials (:class:`Principal`, installed through the emulators' own
  seed/control hooks).
- :func:`run_cli` / :func:`spawn_cli`: the real ``python -m reconciler`` in a subprocess.
- :class:`Probe`: the sandbox seen through the vendors' HTTP APIs only (MediaMath JSON, LiveRamp
  OAuth + REST, mediarithmics token): every live object's id and natural key, hence duplicates.
- :func:`check_converged`: after a run, the problems a user would care about: a non-empty plan,
  duplicates, state entries whose remote id does not exist, desired resources missing from state.
- The write log can also answer the next matching call with an error (``fail_next``) or hold
  it past the client's timeout before the emulator sees it (``delay_next``), and waits for calls
  still in flight (``quiesce``) before anything is checked.
- :func:`crash_trial` (item 1), :func:`fault_trial` (item 2) and :func:`oob_trial` with
  :func:`judge_oob` (item 3): one trial each, shared by the tests and ``benchmarks/soak.py``.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import requests

from reconciler.sandbox import create_sandbox
from reconciler.sandbox.base import Sandbox, SandboxServer
from reconciler.state import StateBackend, open_backend
from reconciler.state.local import LocalBackend
from tests.reliability.estate import DEMO_SECRETS, MICS_ORG, Size, workspace_env, write_workspace
from tests.support.cli import Result
from tests.support.postgres import released

REPO = Path(__file__).resolve().parents[2]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUTH_PATHS = ("/api/v2.0/login", "/api/v2.0/logout", "/v1/oauth/token")
MM_JSON = "application/vnd.mediamath.v1+json"


# -- credentials -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Principal:
    """One set of credentials for all three APIs (a user / API client of each)."""

    label: str
    mm_user: str
    mm_password: str
    mm_api_key: str
    lr_client_id: str
    lr_client_secret: str
    mics_token: str

    def env(self) -> dict[str, str]:
        return {
            "RELI_MM_USERNAME": self.mm_user,
            "RELI_MM_PASSWORD": self.mm_password,
            "RELI_MM_API_KEY": self.mm_api_key,
            "RELI_LR_CLIENT_ID": self.lr_client_id,
            "RELI_LR_CLIENT_SECRET": self.lr_client_secret,
            "RELI_MICS_TOKEN": self.mics_token,
        }

    def secrets(self) -> dict[str, str]:
        return {
            "mediamath password": self.mm_password,
            "mediamath api_key": self.mm_api_key,
            "liveramp client_secret": self.lr_client_secret,
            "mediarithmics token": self.mics_token,
        }


DEMO = Principal(
    "demo",
    DEMO_SECRETS["RELI_MM_USERNAME"],
    DEMO_SECRETS["RELI_MM_PASSWORD"],
    DEMO_SECRETS["RELI_MM_API_KEY"],
    DEMO_SECRETS["RELI_LR_CLIENT_ID"],
    DEMO_SECRETS["RELI_LR_CLIENT_SECRET"],
    DEMO_SECRETS["RELI_MICS_TOKEN"],
)


# -- the sandbox ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoggedWrite:
    seq: int
    at: float
    principal: str
    api: str
    method: str
    path: str
    status: int


class WriteLog:
    """WSGI middleware: records every API write (not auth, not ``/_sandbox``) with its principal."""

    def __init__(self, app: Sandbox) -> None:
        self.app = app
        self.entries: list[LoggedWrite] = []
        self.principals: dict[str, str] = {}  # credential value -> label
        self.failures: list[list[Any]] = []  # [method, path suffix, status, times left]
        self.delays: list[list[Any]] = []  # [method, exact path, seconds, times left]
        self.delayed = 0
        self.in_flight = 0
        self._lock = threading.Lock()

    def quiesce(self, timeout: float = 30.0) -> None:
        """Wait until no API write is being handled (a killed or timed-out client's calls land)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.in_flight == 0:
                    return
            time.sleep(0.01)
        raise AssertionError(f"sandbox writes still in flight after {timeout}s")

    def delay_next(self, method: str, path: str, seconds: float, times: int = 1) -> None:
        """Hold the next ``times`` calls to exactly ``path`` for ``seconds`` before the emulator
        handles them (a client with a shorter timeout gives up; the write still happens)."""
        with self._lock:
            self.delays.append([method, path, seconds, times])

    def _delay(self, method: str, path: str) -> float:
        with self._lock:
            for rule in self.delays:
                if rule[0] == method and path == rule[1] and rule[3] > 0:
                    rule[3] -= 1
                    self.delayed += 1
                    return float(rule[2])
        return 0.0

    def fail_next(self, method: str, path_suffix: str, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` matching API calls with ``status`` (before the emulator)."""
        with self._lock:
            self.failures.append([method, path_suffix, status, times])

    def _injected(self, method: str, path: str) -> int | None:
        with self._lock:
            for rule in self.failures:
                if rule[0] == method and path.endswith(rule[1]) and rule[3] > 0:
                    rule[3] -= 1
                    return int(rule[2])
        return None

    def principal(self, environ: Mapping[str, Any]) -> str:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        candidates = [*query.get("api_key", []), str(environ.get("HTTP_AUTHORIZATION", ""))]
        cookie = str(environ.get("HTTP_COOKIE", ""))
        with self._lock:
            for value in candidates:
                token = value.split(" ", 1)[-1].strip()
                if token in self.principals:
                    return self.principals[token]
            for key, label in self.principals.items():
                if key and key in cookie:
                    return label
        return "?"

    def _token_call(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """LiveRamp token call: remember which principal's client the issued token belongs to."""
        body = b"".join(self.app(environ, start_response))
        auth = str(environ.get("HTTP_AUTHORIZATION", ""))
        try:
            client_id = base64.b64decode(auth.split(" ", 1)[1]).decode().split(":", 1)[0]
            token = json.loads(body)["accessToken"]
        except (IndexError, ValueError, KeyError, TypeError):
            return [body]
        with self._lock:
            label = self.principals.get(client_id)
            if label:
                self.principals[token] = label
        return [body]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        injected = self._injected(method, path) if method in WRITE_METHODS else None
        if path.endswith("/v1/oauth/token") and method == "POST" and injected is None:
            return self._token_call(environ, start_response)
        if injected is None and (method not in WRITE_METHODS or path.startswith("/_sandbox") or path.endswith(AUTH_PATHS)):
            return self.app(environ, start_response)
        who = self.principal(environ)
        api, _, rest = path.lstrip("/").partition("/")
        if injected is not None:
            with self._lock:
                self.entries.append(LoggedWrite(len(self.entries), time.monotonic(), who, api, method, "/" + rest, injected))
            start_response(f"{injected} Injected", [("Content-Type", "application/json")])
            return [json.dumps({"status": injected, "message": "injected failure"}).encode()]
        with self._lock:
            self.in_flight += 1
        try:
            pause = self._delay(method, path)
            if pause:
                time.sleep(pause)
            status_box: list[int] = []

            def recording_start(status: str, headers: Any, *rest: Any) -> Any:
                status_box.append(int(status.split(" ", 1)[0]))
                return start_response(status, headers, *rest)

            at = time.monotonic()
            body = self.app(environ, recording_start)
        finally:
            with self._lock:
                self.in_flight -= 1
        with self._lock:
            self.entries.append(
                LoggedWrite(len(self.entries), at, who, api, method, "/" + rest, status_box[0] if status_box else 0)
            )
        return body


class LiveSandbox:
    """Every emulator on one in-process SandboxServer, with a write log and control helpers."""

    def __init__(self, ssl_context: Any = None, ca_bundle: str | None = None) -> None:
        self.verify: bool | str = ca_bundle or True
        self.app = create_sandbox(":memory:")
        self.log = WriteLog(self.app)
        self.server = SandboxServer(self.log, ssl_context=ssl_context)  # type: ignore[arg-type]
        self.server.start()
        self.url = self.server.url
        self.control("liveramp/tokens", {"limit": 100000})  # many processes, each may fetch a token
        self.add_principal(DEMO, existing=True)

    def close(self) -> None:
        self.server.stop()
        self.app.store.close()

    def __enter__(self) -> LiveSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- control ---------------------------------------------------------------------------------
    def control(self, action: str, body: Any = None, method: str = "POST") -> Any:
        response = requests.request(method, f"{self.url}/_sandbox/{action}", json=body, timeout=30, verify=self.verify)
        if response.status_code >= 400:
            raise AssertionError(f"/_sandbox/{action}: {response.status_code} {response.text}")
        return response.json()

    def faults(self, **settings: Any) -> None:
        self.control("faults", settings)

    def no_faults(self) -> None:
        self.control("faults", {})

    def add_principal(self, who: Principal, *, existing: bool = False, mm_id: int | None = None) -> None:
        """Make ``who``'s credentials valid in every emulator (seed/control hooks only)."""
        if not existing:
            user = {
                "id": mm_id,
                "name": who.mm_user,
                "first_name": who.label,
                "last_name": "User",
                "email": f"{who.mm_user}@acme.example",
                "title": "Trader",
                "organization_id": 100048,
                "password": who.mm_password,
                "api_key": who.mm_api_key,
            }
            self.control("seed", {"api": "mediamath", "name": "entities", "data": {"users": [user]}})
            self.control("liveramp/clients", {"client_id": who.lr_client_id, "client_secret": who.lr_client_secret})
            mics_user = {
                "user_id": str(5000 + len(self.log.principals)),
                "email": f"{who.label}@sandbox.invalid",
                "organisations": ["1581", "1752", "1863"],
                "tokens": [who.mics_token],
            }
            self.control("seed", {"api": "mediarithmics", "data": {"users": [mics_user]}})
        for value in (who.mm_api_key, who.mics_token):
            self.log.principals[value] = who.label
        self.log.principals[who.lr_client_id] = who.label  # refined once a token is issued

    def writes(self) -> list[LoggedWrite]:
        with self.log._lock:
            return list(self.log.entries)

    def write_count(self) -> int:
        with self.log._lock:
            return len(self.log.entries)


# -- the CLI -----------------------------------------------------------------------------------------
def cli_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELI_", "REQUESTS_CA", "CURL_CA"))}
    env.update({"PYTHONPATH": str(REPO), "CI": "true", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


class CliProcess:
    """A running ``python -m reconciler``; its output goes to temporary files (a pipe nobody reads
    would fill up and block the process)."""

    def __init__(self, root: Path, env: Mapping[str, str], *args: str) -> None:
        self.args = args
        self._out = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 - open for the life of the process
        self._err = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "-C", str(root), *args],
            stdout=self._out,
            stderr=self._err,
            text=True,
            env=cli_env(env),
        )
        self.pid = self.popen.pid

    def poll(self) -> int | None:
        return self.popen.poll()

    def send_signal(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()

    def wait(self, timeout: float | None = None) -> int:
        return self.popen.wait(timeout=timeout)

    def output(self) -> tuple[str, str]:
        texts = []
        for fh in (self._out, self._err):
            fh.seek(0)
            texts.append(fh.read())
        return texts[0], texts[1]

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            out, err = self.output()
            raise AssertionError(f"reconciler {' '.join(self.args)} hung for {timeout}s:\n{out}\n{err}") from None
        return self.output()

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def result(self, timeout: float | None = 300) -> Run:
        out, err = self.communicate(timeout)
        return Run(int(self.popen.returncode), out, err, args=tuple(self.args))


def spawn_cli(root: Path, env: Mapping[str, str], *args: str) -> CliProcess:
    return CliProcess(root, env, *args)


@dataclass(frozen=True)
class Run(Result):
    """A CLI run as its own process (:class:`tests.support.cli.Result`) and the arguments it had."""

    args: tuple[str, ...] = ()

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.text or "internal error" in self.text


def run_cli(root: Path, env: Mapping[str, str], *args: str, timeout: float = 300) -> Run:
    return spawn_cli(root, env, *args).result(timeout)


# -- the probe ---------------------------------------------------------------------------------------
@dataclass
class Inventory:
    """Live objects by ``provider.Kind``: their ids and natural keys (one entry per object)."""

    ids: dict[str, set[str]] = field(default_factory=dict)
    keys: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    detached_questions: int = 0  # LiveRamp questions in no clean room (listed by no API call: a leftover)

    def add(self, kind: str, remote_id: str, key: tuple[Any, ...]) -> None:
        self.ids.setdefault(kind, set()).add(str(remote_id))
        self.keys.setdefault(kind, []).append(key)

    def duplicates(self) -> dict[str, list[tuple[Any, ...]]]:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for kind, keys in sorted(self.keys.items()):
            dups = sorted((k for k, n in Counter(keys).items() if n > 1), key=repr)
            if dups:
                out[kind] = dups
        return out

    def duplicate_count(self) -> int:
        return sum(n - 1 for keys in self.keys.values() for n in Counter(keys).values() if n > 1)


class Probe:
    """The sandbox through the vendors' own APIs (GETs, plus logins) with one principal."""

    def __init__(self, url: str, who: Principal = DEMO, verify: bool | str = True) -> None:
        self.url = url
        self.who = who
        self.verify = verify

    # MediaMath -----------------------------------------------------------------------------------
    def mediamath(self) -> dict[str, list[dict[str, Any]]]:
        base = f"{self.url}/mediamath/api/v2.0"
        s = requests.Session()
        s.verify = self.verify
        s.headers["Accept"] = MM_JSON
        s.params = {"api_key": self.who.mm_api_key}  # type: ignore[assignment]
        r = s.post(f"{base}/login", data={"user": self.who.mm_user, "password": self.who.mm_password}, timeout=30)
        r.raise_for_status()
        out: dict[str, list[dict[str, Any]]] = {}
        for coll in ("organizations", "agencies", "advertisers", "campaigns", "strategies", "budget_flights"):
            items: list[dict[str, Any]] = []
            while True:
                r = s.get(f"{base}/{coll}", params={"full": "*", "page_limit": 100, "page_offset": len(items)}, timeout=30)
                r.raise_for_status()
                page = r.json()
                items.extend(page["data"])
                if not page["data"] or len(items) >= int(page["meta"]["total_count"]):
                    break
            out[coll] = items
        return out

    def mediamath_history(self, coll: str, entity_id: str) -> list[dict[str, Any]]:
        base = f"{self.url}/mediamath/api/v2.0"
        s = requests.Session()
        s.verify = self.verify
        s.headers["Accept"] = MM_JSON
        s.params = {"api_key": self.who.mm_api_key}  # type: ignore[assignment]
        s.post(f"{base}/login", data={"user": self.who.mm_user, "password": self.who.mm_password}, timeout=30)
        r = s.get(f"{base}/{coll}/{entity_id}/history", params={"page_limit": 100}, timeout=30)
        r.raise_for_status()
        data: list[dict[str, Any]] = r.json()["data"]
        return data

    # LiveRamp ------------------------------------------------------------------------------------
    def liveramp_session(self) -> requests.Session:
        s = requests.Session()
        s.verify = self.verify
        r = s.post(
            f"{self.url}/liveramp/v1/oauth/token",
            auth=(self.who.lr_client_id, self.who.lr_client_secret),
            data={"grant_type": "client_credentials"},
            timeout=30,
        )
        r.raise_for_status()
        s.headers["Authorization"] = f"Bearer {r.json()['accessToken']}"
        return s

    def liveramp(self, inv: Inventory) -> None:
        s = self.liveramp_session()
        base = f"{self.url}/liveramp/v1"

        def get(path: str) -> Any:
            r = s.get(base + path, timeout=30)
            r.raise_for_status()
            return r.json()

        for conn in get("/data-connections"):
            inv.add("liveramp.DataConnection", conn["id"], (conn["name"],))
        attached: set[str] = set()
        for room in get("/cleanrooms"):
            rid = room["id"]
            inv.add("liveramp.Cleanroom", rid, (room["name"],))
            for ds in get(f"/cleanrooms/{rid}/datasets"):
                inv.add("liveramp.CleanroomDataset", ds["id"], (rid, ds["dataConnectionId"]))
            for inv_ in get(f"/cleanrooms/{rid}/invitations"):
                if inv_.get("Status") in ("PENDING", "ACCEPTED"):
                    inv.add("liveramp.CleanroomPartner", f"{rid}:{inv_['id']}", (rid, inv_["partnerAdminEmail"]))
            for user in get(f"/cleanrooms/{rid}/users"):
                inv.add("liveramp.CleanroomUser", f"{rid}:{user['id']}", (rid, user["user"]["email"]))
            for question in get(f"/cleanrooms/{rid}/assets")["questions"]:  # created in or added to the room
                if question["ID"] not in attached:
                    attached.add(question["ID"])
                    inv.add("liveramp.Question", question["ID"], (question["title"],))
            for crq in get(f"/cleanrooms/{rid}/cleanroom-questions"):
                inv.add("liveramp.CleanroomQuestion", crq["id"], (rid, crq["questionId"]))
                for sched in get(f"/cleanroom-questions/{crq['id']}/cleanroom-question-run-schedules"):
                    inv.add("liveramp.QuestionRunSchedule", f"{crq['id']}:{sched['id']}", (crq["id"], sched["name"]))
        # The API lists questions only per clean room: those in none are only countable by the sandbox.
        stored = requests.get(f"{self.url}/_sandbox/liveramp/state", timeout=30, verify=self.verify).json()
        inv.detached_questions = int(stored["objects"]["questions"]) - len(attached)

    def liveramp_question_exists(self, question_id: str) -> bool:
        s = self.liveramp_session()
        return s.get(f"{self.url}/liveramp/v1/question/{question_id}", timeout=30).status_code == 200

    # mediarithmics -------------------------------------------------------------------------------
    def mediarithmics(self) -> list[dict[str, Any]]:
        r = requests.get(
            f"{self.url}/mediarithmics/v1/clean_rooms",
            params={"organisation_id": MICS_ORG},
            headers={"Authorization": self.who.mics_token},
            timeout=30,
            verify=self.verify,
        )
        r.raise_for_status()
        rooms: list[dict[str, Any]] = r.json()["data"]
        return rooms

    # everything ----------------------------------------------------------------------------------
    def inventory(self) -> Inventory:
        inv = Inventory()
        mm = self.mediamath()
        parents = {
            "organizations": None,
            "agencies": "organization_id",
            "advertisers": "agency_id",
            "campaigns": "advertiser_id",
            "strategies": "campaign_id",
        }
        kinds = {
            "organizations": "Organization",
            "agencies": "Agency",
            "advertisers": "Advertiser",
            "campaigns": "Campaign",
            "strategies": "Strategy",
        }
        for coll, parent in parents.items():
            for e in mm[coll]:
                inv.add(f"mediamath.{kinds[coll]}", str(e["id"]), (e.get(parent) if parent else None, e["name"]))
        for e in mm["budget_flights"]:
            inv.add("mediamath.BudgetFlight", str(e["id"]), (e["campaign_id"], e["start_date"]))
        self.liveramp(inv)
        for room in self.mediarithmics():
            inv.add("mediarithmics.CleanRoom", room["clean_room_id"], (room["organisation_id"], room["name"]))
        return inv


# -- checks ------------------------------------------------------------------------------------------
def state_backend(root: Path, env: Mapping[str, str] | None = None) -> StateBackend:
    """The workspace's state backend: PostgreSQL when ``env`` names one (``pg_env``), else the
    local files."""
    if env is not None and "RELI_PG_URL" in env:
        return open_backend({"backend": "postgres", "url": env["RELI_PG_URL"], "schema": env["RELI_PG_SCHEMA"]}, root)
    return LocalBackend(root / ".reconciler" / "state.json")


def state_resources(root: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The workspace's state as the project's own backend reads it (snapshot + journal)."""
    backend = state_backend(root, env)
    try:
        return dict(backend.read().resources)
    finally:
        backend.close()


@dataclass
class Verdict:
    duplicates: int = 0
    detached_questions: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.duplicates


def check_converged(
    root: Path, env: Mapping[str, str], probe: Probe, expected: int, sandbox: LiveSandbox | None = None
) -> Verdict:
    """Plan empty, no duplicate, every state id live, every desired resource in state."""
    verdict = Verdict()
    if sandbox is not None:
        sandbox.log.quiesce()
    plan = run_cli(root, env, "plan", "--detailed-exitcode")
    if plan.code != 0:
        verdict.problems.append(f"plan after recovery exits {plan.code}:\n{plan.text[-3000:]}")
    inv = probe.inventory()
    verdict.duplicates = inv.duplicate_count()
    verdict.detached_questions = inv.detached_questions
    if inv.detached_questions:  # every question of the workspace is created in its room: a leftover copy
        verdict.problems.append(f"{inv.detached_questions} LiveRamp question(s) in no clean room (a lost create made twice?)")
    for kind, keys in inv.duplicates().items():
        verdict.problems.append(f"duplicate {kind}: {keys}")
    resources = state_resources(root, env)
    if len(resources) != expected:
        verdict.problems.append(f"state holds {len(resources)} resources, the manifests {expected}")
    for address, rs in sorted(resources.items()):
        kind = f"{rs.provider}.{rs.kind}"
        if kind == "liveramp.Question":
            live = rs.remote_id in inv.ids.get(kind, set()) or probe.liveramp_question_exists(rs.remote_id)
        else:
            live = rs.remote_id in inv.ids.get(kind, set())
        if not live:
            verdict.problems.append(f"{address}: remote id {rs.remote_id} does not exist")
    return verdict


# -- crash anywhere (item 1) -----------------------------------------------------------------------------
@dataclass
class TrialResult:
    seed: int
    killed: bool
    kill_after_writes: int
    duplicates: int
    detached_questions: int
    tracebacks: int
    problems: list[str]
    seconds: float


def kill_at_random(
    proc: CliProcess, sandbox: LiveSandbox, rng: random.Random, total_writes: int
) -> tuple[bool, int]:
    """SIGKILL ``proc`` at a random moment: after a random number of API writes (sometimes 0,
    i.e. while it plans or recovers) plus a random sub-millisecond-to-20 ms delay."""
    start = sandbox.write_count()
    if rng.random() < 0.15:
        threshold, delay = 0, rng.uniform(0.0, 1.2)  # during start-up, lock, recovery or plan
    else:
        threshold, delay = rng.randint(1, max(1, total_writes)), rng.uniform(0.0, 0.02)
    deadline = time.monotonic() + 120
    while proc.poll() is None and sandbox.write_count() - start < threshold:
        if time.monotonic() > deadline:
            break
        time.sleep(0.001)
    time.sleep(delay)
    if proc.poll() is not None:
        return False, sandbox.write_count() - start
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return True, sandbox.write_count() - start


def crash_trial(
    seed: int,
    workdir: Path,
    size: Size,
    total_writes: int,
    parallelism: int = 8,
    pg: Mapping[str, str] | None = None,
) -> TrialResult:
    """A fresh sandbox and workspace; apply; SIGKILL at a random moment; apply again; check.

    ``pg`` (``pg_env``): the state lives in PostgreSQL; then the killed run's lock must be free
    the moment it died, before the next apply starts."""
    rng = random.Random(seed)
    started = time.monotonic()
    root = write_workspace(workdir / f"trial-{seed}", size, postgres=pg is not None)
    with LiveSandbox() as sandbox:
        env = {**workspace_env(sandbox.url, workdir / f"trial-{seed}-cache"), **(pg or {})}
        proc = spawn_cli(root, env, "apply", "--auto-approve", "--parallelism", str(parallelism))
        killed, writes = kill_at_random(proc, sandbox, rng, total_writes)
        out, err = proc.communicate()
        tracebacks = int("Traceback" in out + err)
        problems: list[str] = []
        if not killed and proc.returncode != 0:
            problems.append(f"the first apply (not killed) exited {proc.returncode}:\n{(out + err)[-2000:]}")
        if killed and pg is not None:
            backend = state_backend(root, env)
            try:
                if not released(backend):
                    problems.append("the PostgreSQL lock of the killed run was still held after it died")
            finally:
                backend.close()
        resumed = run_cli(root, env, "apply", "--auto-approve", "--parallelism", str(parallelism))
        tracebacks += int(resumed.traceback)
        if resumed.code != 0:
            problems.append(f"the apply after the kill exited {resumed.code}:\n{resumed.text[-3000:]}")
        if killed and (root / ".reconciler" / "state.lock").exists():
            problems.append("the lock of the killed run is still there after the next apply")
        verdict = check_converged(root, env, Probe(sandbox.url), size.total, sandbox)
        problems.extend(verdict.problems)
    return TrialResult(
        seed=seed,
        killed=killed,
        kill_after_writes=writes,
        duplicates=verdict.duplicates,
        detached_questions=verdict.detached_questions,
        tracebacks=tracebacks,
        problems=problems,
        seconds=time.monotonic() - started,
    )


def calibrate(workdir: Path, size: Size) -> tuple[int, Verdict]:
    """One uninterrupted apply: how many API writes it takes, and its convergence verdict."""
    root = write_workspace(workdir / "calibration", size)
    with LiveSandbox() as sandbox:
        env = workspace_env(sandbox.url, workdir / "calibration-cache")
        first = run_cli(root, env, "apply", "--auto-approve")
        if first.code != 0:
            raise AssertionError(f"the calibration apply failed:\n{first.text[-3000:]}")
        writes = sandbox.write_count()
        verdict = check_converged(root, env, Probe(sandbox.url), size.total, sandbox)
    return writes, verdict


# -- faults (item 2) -------------------------------------------------------------------------------------
FAULTS: Mapping[str, Any] = {
    "fault_rate": 0.3,
    "weights": {"429": 1.0, "429-bare": 1.0, "5xx": 1.0, "drop": 1.0},
    "retry_after": 0.05,
    "latency_spike_rate": 0.03,
    "latency_spike_ms": 1500.0,  # beyond the clients' 1 s timeout: the call fails, the server goes on
}
FAULT_TIMEOUT = 1.0


@dataclass
class FaultResult:
    seed: int
    runs: int
    duplicates: int
    detached_questions: int
    tracebacks: int
    budgets: list[str]
    problems: list[str]
    seconds: float


def fault_trial(seed: int, workdir: Path, size: Size, max_runs: int = 25, parallelism: int = 8) -> FaultResult:
    """Apply under 30 % injected faults, re-running as a user would until it succeeds; then check
    (faults off) that everything converged without a duplicate."""
    started = time.monotonic()
    root = write_workspace(workdir / f"faults-{seed}", size)
    budgets: list[str] = []
    problems: list[str] = []
    tracebacks = 0
    runs = 0
    with LiveSandbox() as sandbox:
        env = workspace_env(sandbox.url, workdir / f"faults-{seed}-cache", timeout=FAULT_TIMEOUT)
        sandbox.faults(seed=seed, **FAULTS)
        while runs < max_runs:
            runs += 1
            result = run_cli(root, env, "apply", "--auto-approve", "--parallelism", str(parallelism))
            tracebacks += int(result.traceback)
            budgets.extend(line for line in result.out.splitlines() if line.startswith("API requests:"))
            if result.code == 0:
                break
            if result.code not in (1, 3) or "Error:" not in result.err:
                problems.append(f"apply run {runs} exited {result.code} without an error message:\n{result.text[-2000:]}")
        else:
            problems.append(f"apply did not converge in {max_runs} runs under faults")
        time.sleep(FAULTS["latency_spike_ms"] / 1000.0 + 0.5)  # let delayed requests land
        sandbox.no_faults()
        verdict = check_converged(root, env, Probe(sandbox.url), size.total, sandbox)
        problems.extend(verdict.problems)
    return FaultResult(
        seed=seed,
        runs=runs,
        duplicates=verdict.duplicates,
        detached_questions=verdict.detached_questions,
        tracebacks=tracebacks,
        budgets=budgets,
        problems=problems,
        seconds=time.monotonic() - started,
    )


# -- concurrent writers (item 3) ---------------------------------------------------------------------------
OOB = Principal("oob", "oob", "oob-password-31", "oob-api-key-31", "oob-client", "oob-client-secret-31", "oob-token-31")
OOB_SIZE = Size(agencies=1, advertisers_per_agency=2, campaigns_per_advertiser=3, strategies_per_campaign=4, rooms=0, mics_rooms=0)
# per MediaMath kind: the field the plan changes, a manifest field it leaves alone, an unmanaged field
OOB_FIELDS: Mapping[str, tuple[str, str, str]] = {
    "campaigns": ("total_budget", "goal_value", "io_name"),
    "strategies": ("budget", "max_bid", "description"),
}
KIND_COLLECTION = {"Campaign": "campaigns", "Strategy": "strategies"}


@dataclass(frozen=True)
class OobEdit:
    collection: str
    entity_id: str
    field: str
    value: str
    role: str  # planned | manifest | unmanaged


@dataclass
class OobResult:
    seed: int
    code: int
    edits: list[OobEdit]
    conflicts: set[str]
    lost: list[str]
    problems: list[str]
    tracebacks: int


def raise_budgets(root: Path) -> None:
    """Change the manifests: every campaign's ``total_budget`` (+1000) and every strategy's
    ``budget`` (+500) go up (raises: no budget guardrail applies)."""
    path = root / "manifests" / "mediamath.yaml"
    bumps = {"Campaign": ("total_budget: ", 1000), "Strategy": ("budget: ", 500)}
    docs = []
    for doc in path.read_text(encoding="utf-8").split("---\n"):
        kind = re.search(r"^kind: (\w+)$", doc, re.MULTILINE)
        if kind and kind.group(1) in bumps:
            key, bump = bumps[kind.group(1)]
            doc = re.sub(rf"^(\s+){key}(\d+)$", lambda m, b=bump, k=key: f"{m.group(1)}{k}{int(m.group(2)) + b}", doc, flags=re.MULTILINE)
        docs.append(doc)
    path.write_text("---\n".join(docs), encoding="utf-8")


def _oob_value(field: str, rng: random.Random, n: int) -> str:
    if field in ("io_name", "description"):
        return f"oob-{n}"
    if field in ("total_budget",):
        return f"{90000 + n}.00"
    if field == "budget":
        return f"{3000 + n}.00"
    if field == "goal_value":
        return f"{20 + n % 50}.25"
    return f"{5 + n % 40}.75"  # max_bid


def oob_trial(seed: int, workdir: Path, size: Size = OOB_SIZE, parallelism: int = 8) -> OobResult:
    """Baseline apply; raise budgets and save a plan; apply it while an out-of-band writer edits
    random managed MediaMath objects (as user ``oob``); judge every edit against ``/history``."""
    rng = random.Random(seed)
    root = write_workspace(workdir / f"oob-{seed}", size)
    problems: list[str] = []
    tracebacks = 0
    with LiveSandbox() as sandbox:
        sandbox.add_principal(OOB, mm_id=31)
        env = workspace_env(sandbox.url, workdir / f"oob-{seed}-cache")
        base = run_cli(root, env, "apply", "--auto-approve")
        if base.code != 0:
            raise AssertionError(f"baseline apply failed:\n{base.text[-3000:]}")
        resources = state_resources(root)
        targets = sorted(
            (KIND_COLLECTION[rs.kind], rs.remote_id, address)
            for address, rs in resources.items()
            if rs.provider == "mediamath" and rs.kind in KIND_COLLECTION
        )
        address_of = {(c, i): a for c, i, a in targets}
        raise_budgets(root)
        plan_file = workdir / f"oob-{seed}-plan.json"
        planned = run_cli(root, env, "plan", "--out", str(plan_file))
        if planned.code != 0:
            raise AssertionError(f"plan failed:\n{planned.text[-3000:]}")
        first_write = sandbox.write_count()
        proc = spawn_cli(root, env, "apply", str(plan_file), "--parallelism", str(parallelism))
        edits: list[OobEdit] = []
        deadline = time.monotonic() + 60
        while proc.poll() is None and sandbox.write_count() == first_write and time.monotonic() < deadline:
            time.sleep(0.002)
        session = requests.Session()
        n = 0
        while proc.poll() is None and time.monotonic() < deadline:
            coll, entity_id, _ = rng.choice(targets)
            role_index = rng.randrange(3)
            field_name = OOB_FIELDS[coll][role_index]
            n += 1
            value = _oob_value(field_name, rng, n)
            r = session.post(
                f"{sandbox.url}/_sandbox/mediamath/edit",
                json={"collection": coll, "id": int(entity_id), "fields": {field_name: value}, "user": "oob"},
                timeout=30,
            )
            if r.status_code == 200:
                edits.append(OobEdit(coll, entity_id, field_name, value, ("planned", "manifest", "unmanaged")[role_index]))
            time.sleep(rng.uniform(0.0, 0.01))
        result = proc.result()
        tracebacks += int(result.traceback)
        conflicts = set(re.findall(r"Conflict on (\S+):", result.out))
        outcomes = dict(re.findall(r"^(\S+): (conflict|skipped|failed)\b", result.out, re.MULTILINE))
        failed = sorted(a for a, o in outcomes.items() if o == "failed")
        if failed:
            problems.append(f"failed under out-of-band edits: {failed}")
        if result.code not in (0, 3):
            problems.append(f"apply of the saved plan exited {result.code}:\n{result.text[-3000:]}")
        if (result.code == 3) != bool(conflicts):
            problems.append(f"exit {result.code} but conflicts reported: {sorted(conflicts)}")
        sandbox.log.quiesce()
        reported = conflicts | {a for a, o in outcomes.items() if o in ("conflict", "skipped")}
        lost, more = judge_oob(Probe(sandbox.url), edits, address_of, reported)
        problems.extend(more)
    return OobResult(seed, result.code, edits, conflicts, lost, problems, tracebacks)


def _same(a: Any, b: Any) -> bool:
    """Live JSON value vs history (wire) text; MediaMath money reads ``[{currency_code, value}]``."""
    if isinstance(a, list) and a and isinstance(a[0], Mapping) and "value" in a[0]:
        a = a[0]["value"]
    if a is None or b is None:
        return a == b
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def judge_oob(
    probe: Probe, edits: list[OobEdit], address_of: Mapping[tuple[str, str], str], reported: set[str]
) -> tuple[list[str], list[str]]:
    """(lost edits, other problems) from every planned entity's ``/history`` and live values.

    - lost: an ``oob`` entry sets a field and a later entry by anyone else sets it again;
    - every field whose last writer is ``oob`` holds oob's value live (the edit survived);
    - every planned update either happened (our entry sets the planned field) or its address is in
      ``reported`` (a conflict, or skipped because a parent conflicted): nothing is left silently.
    """
    lost: list[str] = []
    problems: list[str] = []
    mm = probe.mediamath()
    live = {(coll, str(e["id"])): e for coll in ("campaigns", "strategies") for e in mm[coll]}
    edited = {(e.collection, e.entity_id) for e in edits}
    for (coll, entity_id), address in sorted(address_of.items()):
        history = list(reversed(probe.mediamath_history(coll, entity_id)))  # oldest first
        planned_field = OOB_FIELDS[coll][0]
        last_writer: dict[str, tuple[str, Any]] = {}
        oob_set: set[str] = set()  # fields whose latest value is oob's
        ours_updated = False
        for entry in history:
            who = str(entry.get("user_name"))
            for f in entry.get("fields", []):
                name = f["name"]
                if who == "oob":
                    oob_set.add(name)
                else:
                    if name in oob_set:
                        lost.append(f"{address}: {who} overwrote oob's {name} ({last_writer[name][1]!r} -> {f['new_value']!r})")
                    oob_set.discard(name)
                    if who != "oob" and entry.get("action") == "update" and name == planned_field:
                        ours_updated = True
                last_writer[name] = (who, f["new_value"])
        current = live.get((coll, entity_id), {})
        for name in sorted(oob_set):
            if not _same(current.get(name), last_writer[name][1]):
                problems.append(f"{address}: live {name} is {current.get(name)!r}, oob's last value {last_writer[name][1]!r}")
        if not ours_updated and address not in reported:
            extra = " (oob edited it)" if (coll, entity_id) in edited else ""
            problems.append(f"{address}: its planned {planned_field} update neither happened nor was reported as a conflict{extra}")
    return lost, problems
