"""No secret ever leaves the environment (issue 9 item 6); TLS verification by default.

Aspects covered:
- Distinctive secrets (MediaMath password and api_key, LiveRamp client secret, mediarithmics
  token) are made valid in the sandbox through its seed/control hooks and reach the workspace
  only as ``${env:...}``. An end-to-end flow runs as real processes: validate, plan (text, json,
  markdown, ``--out``), apply of the saved plan (its lock file captured while it runs), drift
  after an out-of-band edit (text, json, markdown), state list / show of every address, the
  Markdown plan that reverts that edit, ``export`` of every provider's objects into a new
  workspace (its manifests, state and workspace file are scanned too), and
  induced errors with ``--debug`` off: 5xx answers, dropped connections, a wrong MediaMath
  password, a rotated LiveRamp secret, an unreachable endpoint; plus the same 5xx error with
  ``--debug``. An in-process run logs everything at DEBUG (urllib3 prints every request URL) to
  a file. Every output, plan file, state file, journal, lock file, token cache file and that
  log is scanned for every secret, its base64 / base64url / URL-encoded forms and the Basic
  authorization header value: none may appear. The secrets were really used (the sandbox's
  write log attributes the writes to them).
- The state database's password (state in PostgreSQL): never in outputs (plan, apply, state list,
  a lock error, a refused unlock, a server that is down, a wrong password, with ``--debug``), the
  plan file, a pulled state, the lock and journal rows; ``validate`` works without it.
- TLS: each provider refuses a sandbox served over HTTPS with a certificate from an unknown CA
  (trustme) with a clear error, and works once ``ca_bundle`` names that CA.
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import psycopg
import pytest
import trustme
from click.testing import CliRunner

from reconciler.cli.main import cli
from reconciler.errors import TransportError
from reconciler.providers.base import ProviderConfig
from reconciler.providers.liveramp.provider import LiveRampProvider
from reconciler.providers.mediamath.provider import MediaMathProvider
from reconciler.providers.mediarithmics.provider import MediarithmicsProvider
from tests.reliability.estate import Size, pg_env, workspace_env, write_workspace
from tests.reliability.harness import (
    LiveSandbox,
    Principal,
    Run,
    run_cli,
    spawn_cli,
    state_backend,
    state_resources,
)
from tests.support.postgres import PASSWORD as PG_PASSWORD
from tests.support.postgres import Cluster, free_port

SECRET = Principal(
    "secret",
    "sec-user",
    "Pw-7e1f+MEDIAMATH/ZQX9=",
    "Key-91ab-MEDIAMATH-QZV4",
    "sec-client",
    "Sec-4c2d&LIVERAMP?XJW2",
    "Tok-55e0-MICS-WKP7",
)
WRONG_PASSWORD = "Wrong-Pw-MEDIAMATH-8842"
ROTATED_SECRET = "Rotated-LIVERAMP-5510"
SIZE = Size(agencies=1, advertisers_per_agency=1, campaigns_per_advertiser=1, strategies_per_campaign=2, rooms=1, mics_rooms=2)


def forms(secret: str) -> set[str]:
    raw = secret.encode()
    out = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    return {f for f in out if len(f) >= 6}


def all_forms() -> dict[str, set[str]]:
    found = {name: forms(value) for name, value in SECRET.secrets().items()}
    basic = f"{SECRET.lr_client_id}:{SECRET.lr_client_secret}"
    found["liveramp Basic authorization"] = {base64.b64encode(basic.encode()).decode()}
    found["wrong mediamath password"] = forms(WRONG_PASSWORD)
    found["rotated liveramp secret"] = forms(ROTATED_SECRET)
    return found


def leaks(where: str, text: str) -> list[str]:
    return [f"{where}: {name} ({form!r})" for name, fs in all_forms().items() for form in fs if form in text]


def test_the_scanner_finds_every_form() -> None:
    for value in SECRET.secrets().values():
        for form in forms(value):
            assert leaks("x", f"...{form}...")
    assert leaks("x", "Authorization: Basic " + base64.b64encode(b"sec-client:Sec-4c2d&LIVERAMP?XJW2").decode())
    assert leaks("x", "nothing to see") == []


class Capture:
    """Every output and file of the flow, for the scan."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.seconds: list[tuple[float, str]] = []

    def run(self, root: Path, env: dict[str, str], *args: str) -> Run:
        started = time.monotonic()
        result = run_cli(root, env, *args)
        self.seconds.append((time.monotonic() - started, " ".join(args)))
        self.texts[f"#{len(self.texts)} reconciler {' '.join(args)} (exit {result.code})"] = result.text
        assert not result.traceback or "--debug" in args, result.text
        return result

    def files(self, *roots: Path) -> None:
        for root in roots:
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                self.texts[str(path)] = path.read_bytes().decode("utf-8", errors="replace")

    def scan(self) -> list[str]:
        return [leak for where, text in sorted(self.texts.items()) for leak in leaks(where, text)]


def capture_lock(path: Path, stop: threading.Event, seen: list[str]) -> None:
    while not stop.is_set():
        try:
            seen.append(path.read_text())
        except OSError:
            pass
        time.sleep(0.002)


@pytest.mark.timeout(300)
def test_no_secret_in_any_output_file_or_log(tmp_path: Path) -> None:
    root = write_workspace(tmp_path / "ws", SIZE)
    cache = tmp_path / "token-cache"
    cap = Capture()
    with LiveSandbox() as sandbox:
        sandbox.add_principal(SECRET, mm_id=61)
        env = workspace_env(sandbox.url, cache, secrets=SECRET.env())

        assert cap.run(root, env, "validate").code == 0
        plan_file = tmp_path / "plan.json"
        assert cap.run(root, env, "plan", "--out", str(plan_file)).code == 0
        assert cap.run(root, env, "plan", "--format", "json").code == 0
        assert cap.run(root, env, "plan", "--format", "markdown").code == 0

        stop, locks = threading.Event(), []
        watcher = threading.Thread(target=capture_lock, args=(root / ".reconciler" / "state.lock", stop, locks))
        watcher.start()
        try:
            proc = spawn_cli(root, env, "apply", str(plan_file))
            applied = proc.result()
        finally:
            stop.set()
            watcher.join()
        cap.texts["apply (saved plan)"] = applied.text
        assert applied.code == 0, applied.text
        assert locks, "the lock file was never seen during the apply"
        cap.texts["state.lock while applying"] = "\n".join(sorted(set(locks)))
        assert {w.principal for w in sandbox.writes()} == {"secret"}  # the secrets did the work

        campaign = next(rs for rs in state_resources(root).values() if rs.kind == "Campaign")
        sandbox.control("mediamath/edit", {"collection": "campaigns", "id": int(campaign.remote_id), "fields": {"goal_value": "13.5"}})
        for fmt in ("text", "json", "markdown"):
            assert cap.run(root, env, "drift", "--format", fmt).code == 2
        assert cap.run(root, env, "state", "list").code == 0
        for address in sorted(state_resources(root)):
            assert cap.run(root, env, "state", "show", address).code == 0
        assert cap.run(root, env, "plan", "--format", "markdown").code == 0  # reverts jdoe's edit, naming them
        exported = export_everything(cap, root, tmp_path / "exported", env)

        # induced errors, --debug off; one kind per provider (--target) keeps the retries short
        one = ("--target", "mediamath.Organization/org", "--target", "liveramp.Cleanroom/room0",
               "--target", "mediarithmics.CleanRoom/mroom0")
        # only the auth calls (POST) fail: errors name the login / token call
        sandbox.faults(fault_rate=1.0, weights={"5xx": 1.0}, only_writes=True)
        assert cap.run(root, env, "plan", *one).code == 1
        assert cap.run(root, env, "--debug", "plan", *one).code != 0
        sandbox.faults(fault_rate=1.0, weights={"5xx": 1.0})
        assert cap.run(root, env, "plan", "--target", "mediarithmics.CleanRoom/mroom0").code == 1
        sandbox.faults(fault_rate=1.0, weights={"drop": 1.0}, only_writes=True)
        assert cap.run(root, env, "plan", *one).code == 1
        sandbox.no_faults()
        assert cap.run(root, {**env, "RELI_MM_PASSWORD": WRONG_PASSWORD}, "plan").code == 1
        sandbox.control("liveramp/clients", {"client_id": SECRET.lr_client_id, "client_secret": ROTATED_SECRET})
        for path in cache.rglob("*.json"):
            path.unlink()  # a fresh token must be asked for with the (now wrong) secret
        assert cap.run(root, env, "plan").code == 1
        unreachable = {**env, "RELI_MM_ENDPOINT": "http://127.0.0.1:9/mediamath", "RELI_MICS_ENDPOINT": "http://127.0.0.1:9/mics"}
        assert cap.run(root, unreachable, "plan", *one).code == 1

        cap.files(root, cache, plan_file.parent, exported)
    assert any(name.endswith(".yaml") and "/exported/manifests/" in name for name in cap.texts)
    errors = [t for name, t in cap.texts.items() if "(exit 1)" in name]
    assert len(errors) >= 5 and all("Error:" in t for t in errors)
    assert cap.scan() == []


def export_everything(cap: Capture, root: Path, target: Path, env: dict[str, str]) -> Path:
    """``export`` of every provider's objects into a new workspace beside ``root`` (same
    settings, its own state): the manifests, state and workspace files it writes are scanned."""
    (target / "manifests").mkdir(parents=True)
    (target / "reconciler.yaml").write_text((root / "reconciler.yaml").read_text())
    ids = {rs.kind: rs.remote_id for rs in state_resources(root).values()}
    for provider, scope in (("mediamath", ("--agency", ids["Agency"])), ("liveramp", ("--cleanroom", ids["Cleanroom"])),
                            ("mediarithmics", ("--organisation", "1863"))):
        result = cap.run(target, env, "export", "--provider", provider, *scope, "--out", f"manifests/{provider}")
        assert result.code == 0, result.text
    return target


@pytest.mark.timeout(120)
def test_debug_log_of_an_in_process_run_holds_no_secret(tmp_path: Path) -> None:
    root = write_workspace(tmp_path / "ws", SIZE)
    log_file = tmp_path / "debug.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root_logger = logging.getLogger()
    old_level = root_logger.level
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.DEBUG)
    try:
        with LiveSandbox() as sandbox:
            sandbox.add_principal(SECRET, mm_id=62)
            env = workspace_env(sandbox.url, tmp_path / "cache", secrets=SECRET.env())
            runner = CliRunner()
            outputs = []
            for args in (["plan"], ["apply", "--auto-approve"], ["drift"]):
                result = runner.invoke(cli, ["-C", str(root), *args], env=env, catch_exceptions=False)
                outputs.append(result.stdout + result.stderr)
                assert result.exit_code == 0, result.stdout + result.stderr
    finally:
        root_logger.removeHandler(handler)
        root_logger.setLevel(old_level)
        handler.close()
    text = log_file.read_text(encoding="utf-8")
    assert "/mediamath/api/v2.0/" in text and "api_key=***" in text, text[:2000]  # urllib3 did log URLs
    assert leaks("debug log", text) == []
    assert leaks("outputs", "\n".join(outputs)) == []


# -- TLS --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveSandbox, Path]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    sandbox = LiveSandbox(ssl_context=context, ca_bundle=str(ca_file))
    yield sandbox, ca_file
    sandbox.close()


def tls_provider(name: str, url: str, tmp: Path, ca_bundle: str | None) -> object:
    options: dict[str, object] = {"ca_bundle": ca_bundle} if ca_bundle else {}
    if name == "mediamath":
        return MediaMathProvider(ProviderConfig("mediamath", f"{url}/mediamath", {"username": "demo", "password": "demo-password", "api_key": "demo-api-key"}, options, tmp))
    if name == "liveramp":
        return LiveRampProvider(ProviderConfig("liveramp", f"{url}/liveramp", {"client_id": "demo-client", "client_secret": "demo-secret"}, {**options, "token_cache_dir": str(tmp / "tokens")}, tmp))
    return MediarithmicsProvider(ProviderConfig("mediarithmics", f"{url}/mediarithmics", {"token": "demo-token"}, {**options, "organisation_id": "1863"}, tmp))


KINDS = {"mediamath": ("Campaign", "1"), "liveramp": ("Cleanroom", "r1"), "mediarithmics": ("CleanRoom", "5")}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(KINDS))
def test_tls_is_verified_by_default_and_ca_bundle_trusts_a_private_ca(
    tls_sandbox: tuple[LiveSandbox, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    sandbox, ca_file = tls_sandbox
    assert sandbox.url.startswith("https://")
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(var, raising=False)
    kind, remote_id = KINDS[name]
    refusing = tls_provider(name, sandbox.url, tmp_path, None)
    with pytest.raises(TransportError) as info:
        refusing.read(kind, [remote_id])  # type: ignore[attr-defined]
    assert "TLS" in str(info.value) and "ca_bundle" in str(info.value), str(info.value)
    refusing.close()  # type: ignore[attr-defined]
    trusting = tls_provider(name, sandbox.url, tmp_path, str(ca_file))
    assert trusting.read(kind, [remote_id]) == {}  # type: ignore[attr-defined]
    trusting.close()  # type: ignore[attr-defined]


@pytest.mark.timeout(120)
def test_cli_refuses_an_unknown_ca_and_accepts_ca_bundle(tls_sandbox: tuple[LiveSandbox, Path], tmp_path: Path) -> None:
    sandbox, ca_file = tls_sandbox
    root = write_workspace(tmp_path / "ws", SIZE)
    env = workspace_env(sandbox.url, tmp_path / "cache")
    refused = run_cli(root, env, "plan")
    assert refused.code == 1 and "TLS verification failed" in refused.err, refused.text
    workspace = root / "reconciler.yaml"
    text = workspace.read_text()
    for provider in ("mediamath", "liveramp", "mediarithmics"):
        text = text.replace(f"  {provider}:\n", f"  {provider}:\n    ca_bundle: {ca_file}\n", 1)
    workspace.write_text(text)
    trusted = run_cli(root, env, "plan")
    assert trusted.code == 0, trusted.text
    assert json.loads(run_cli(root, env, "plan", "--format", "json").out)["resource_changes"]


@pytest.mark.timeout(300)
def test_the_state_databases_password_never_leaves_the_environment(tmp_path: Path, pg_cluster: Cluster) -> None:
    """The PostgreSQL connection string is a secret like the API credentials: with the state in
    PostgreSQL, no output, plan, pulled state, lock row or error holds its password (in any form),
    including when the server is down, the password is wrong, and with ``--debug``; ``validate``
    needs no connection string at all."""
    small = Size(agencies=1, advertisers_per_agency=1, campaigns_per_advertiser=1, strategies_per_campaign=1, rooms=0, mics_rooms=2)
    root = write_workspace(tmp_path / "ws", small, postgres=True)
    pg = pg_env(pg_cluster.url(), pg_cluster.fresh_schema())
    secrets = forms(PG_PASSWORD) | forms(quote(PG_PASSWORD, safe=""))
    texts: dict[str, str] = {}

    def run(env: dict[str, str], *args: str) -> Run:
        result = run_cli(root, env, *args)
        texts[f"reconciler {' '.join(args)} (exit {result.code})"] = result.text
        return result

    with LiveSandbox() as sandbox:
        env = {**workspace_env(sandbox.url, tmp_path / "cache"), **pg}
        no_db = {k: v for k, v in env.items() if k != "RELI_PG_URL"}
        assert run(no_db, "validate").code == 0  # no state, no connection string needed
        plan_file = tmp_path / "plan.json"
        assert run(env, "plan", "--out", str(plan_file)).code == 0
        assert run(env, "apply", str(plan_file)).code == 0
        assert run(env, "state", "list").code == 0
        assert run(env, "state", "pull", str(tmp_path / "pulled.json")).code == 0
        holder = state_backend(root, env)
        lock = holder.acquire_lock("apply")
        assert run(env, "apply", "--auto-approve").code == 1  # locked: names the holder and the target
        assert run(env, "state", "unlock", lock.id).code == 1  # its session is alive
        with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
            texts["locks table"] = str(conn.execute(f"SELECT * FROM {pg['RELI_PG_SCHEMA']}.locks").fetchall())
            texts["journal table"] = str(conn.execute(f"SELECT * FROM {pg['RELI_PG_SCHEMA']}.journal").fetchall())
        holder.release_lock(lock)
        holder.close()
        down = {**env, "RELI_PG_URL": env["RELI_PG_URL"].replace(f":{pg_cluster.port}/", f":{free_port()}/")}
        assert run(down, "plan").code == 1
        assert run(down, "--debug", "plan").code == 1
        wrong = {**env, "RELI_PG_URL": env["RELI_PG_URL"].replace(quote(PG_PASSWORD, safe=""), "Wrong-" + quote(PG_PASSWORD, safe=""))}
        assert run(wrong, "state", "list").code == 1
    texts["plan file"] = plan_file.read_text()
    texts["pulled state"] = (tmp_path / "pulled.json").read_text()
    assert any("cannot connect to the PostgreSQL state at postgresql://reconciler@127.0.0.1:" in t for t in texts.values())
    assert any("password authentication failed" in t for t in texts.values())
    found = [f"{where}: {form!r}" for where, text in sorted(texts.items()) for form in secrets if form in text]
    assert found == []
