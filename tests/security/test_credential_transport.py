"""Credentials travel only where they are meant to, and never come back in a message (issue 16.7-9).

Real HTTP servers on 127.0.0.1 play a hostile or broken vendor for each provider (MediaMath,
LiveRamp, mediarithmics):
- 16.7: every call is answered with a 307 (and a 308, a 302) redirect to another host; no
  provider follows it (the other host receives nothing: no password, no token), and the error
  says the redirect was not followed and why, naming only the target's origin;
- 16.8: an ``http://`` endpoint on another machine is refused when the workspace loads (naming
  the line), accepted with ``allow_insecure_http: true`` with a warning on every run (validate
  and state list too); loopback
  (``127.0.0.1``, ``localhost``, ``[::1]``) stays allowed (the sandbox runs there);
- 16.9: an error answer that echoes the whole request (URL, headers, body), as JSON or as text,
  never puts a credential in the error, in any form (raw, URL-encoded, JSON- or HTML-escaped,
  Basic); mediarithmics honours ``timeout:``; a credential that cannot travel in an HTTP header
  (outside Latin-1, a control character) is a clear error naming it, never ``UnicodeEncodeError``,
  for every provider and through the CLI.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import APIError, ReconcilerError, TransportError, WorkspaceError
from reconciler.providers.base import Provider, ProviderConfig
from reconciler.providers.http import RetryPolicy, basic_credentials, secret_forms
from reconciler.providers.liveramp.provider import LiveRampProvider
from reconciler.providers.mediamath.provider import MediaMathProvider
from reconciler.providers.mediarithmics.provider import MediarithmicsProvider
from tests.adopt.conftest import REPO, Workspace

PASSWORD = 'Pw+/é "x&y=z<1>'
API_KEY = "Key-77%+&=/QZ"
CLIENT_SECRET = 'Sec+/&é"=LR?'
TOKEN = 'Tok+/é"=MICS&'


class Vendor(ThreadingHTTPServer):
    """A local server that answers every call the same way (``mode``) and records what it got."""

    daemon_threads = True

    def __init__(self, mode: str = "echo-json", **settings: Any) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = mode
        self.settings = settings
        self.received: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Vendor

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("latin-1") if length else ""
        request = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        self.server.received.append(request)
        mode = self.server.mode
        if mode.startswith("redirect"):
            self.send_response(int(mode.split("-")[1]))
            self.send_header("Location", f"{self.server.settings['to']}/steal{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "slow":
            time.sleep(self.server.settings.get("seconds", 5))
        echoed = json.dumps(request)
        if mode == "echo-text":
            payload, ctype = f"bad request: {echoed}".encode(), "text/plain"
        else:  # every provider's error parser finds the echo in one of these fields
            payload = json.dumps({"message": echoed, "error": echoed, "status": "BAD_REQUEST"}).encode()
            ctype = "application/json"
        self.send_response(400)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@pytest.fixture
def thief() -> Iterator[Vendor]:
    server = Vendor("echo-json")
    yield server
    server.stop()


PROVIDERS = ("mediamath", "liveramp", "mediarithmics")
READS = {"mediamath": ("Campaign", "1"), "liveramp": ("Cleanroom", "r1"), "mediarithmics": ("CleanRoom", "5")}


def provider(name: str, url: str, tmp: Path, **options: Any) -> Provider:
    if name == "mediamath":
        return MediaMathProvider(ProviderConfig(name, url, {"username": "robot", "password": PASSWORD, "api_key": API_KEY},
                                                options, tmp))
    if name == "liveramp":
        return LiveRampProvider(ProviderConfig(name, url, {"client_id": "client-1", "client_secret": CLIENT_SECRET},
                                               {"token_cache_dir": str(tmp / "tokens"), **options}, tmp))
    return MediarithmicsProvider(ProviderConfig(name, url, {"token": TOKEN}, {"organisation_id": "1863", **options}, tmp))


def all_forms() -> set[str]:
    forms = set()
    for secret in (PASSWORD, API_KEY, CLIENT_SECRET, TOKEN, basic_credentials("client-1", CLIENT_SECRET)):
        forms |= secret_forms(secret)
    return forms


def failure(name: str, url: str, tmp: Path) -> ReconcilerError:
    kind, remote_id = READS[name]
    p = provider(name, url, tmp)
    try:
        with pytest.raises(ReconcilerError) as info:
            p.read(kind, [remote_id])
    finally:
        p.close()  # type: ignore[attr-defined]
    return info.value


# -- 16.7 redirects --------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [307, 308, 302])
@pytest.mark.parametrize("name", PROVIDERS)
def test_no_provider_follows_a_redirect(name: str, status: int, thief: Vendor, tmp_path: Path) -> None:
    vendor = Vendor(f"redirect-{status}", to=thief.url.replace("127.0.0.1", "localhost"))
    try:
        error = failure(name, vendor.url, tmp_path)
    finally:
        vendor.stop()
    assert thief.received == []  # nothing reached the other host: no password, no token
    text = str(error)
    assert f"HTTP {status}" in text and "never follows redirects" in text, text
    assert f"redirect to {thief.url.replace('127.0.0.1', 'localhost')};" in text and "/steal" not in text, text
    assert not [f for f in all_forms() if f in text]
    if name == "mediamath":
        assert "login refused" in text and "/login" in text, text  # the credential request itself


# -- 16.8 plain http off this machine -------------------------------------------------------------
def test_plain_http_to_another_machine_is_refused_unless_allowed(sandbox_ws: Workspace) -> None:
    config = sandbox_ws.root / "reconciler.yaml"
    original = config.read_text()
    lines = original.splitlines()
    index = next(i for i, line in enumerate(lines) if "endpoint:" in line and "/mediarithmics" in line)
    lines[index] = "    endpoint: http://api.mics.example:8080/v1"
    config.write_text("\n".join(lines) + "\n")
    refused = sandbox_ws.run("validate")
    assert refused.code == 1, refused.text
    assert (f"reconciler.yaml:{index + 1}: providers.mediarithmics.endpoint: endpoint 'http://api.mics.example:8080' "
            "is plain http:// on another machine: the credentials would cross the network unencrypted") in refused.err
    assert "allow_insecure_http: true" in refused.err
    lines.insert(index + 1, "    allow_insecure_http: true")
    config.write_text("\n".join(lines) + "\n")
    for args in (("validate",), ("state", "list")):  # said on every run
        allowed = sandbox_ws.run(*args)
        assert allowed.code == 0, allowed.text
        assert ("Warning: providers.mediarithmics: the endpoint is plain HTTP on another machine "
                "(allow_insecure_http: true)") in allowed.err, allowed.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.0.0.2"])
def test_loopback_http_stays_allowed(sandbox_ws: Workspace, host: str) -> None:
    config = sandbox_ws.root / "reconciler.yaml"
    text = config.read_text()
    url = text.split("endpoint: ", 1)[1].split("/mediamath", 1)[0]
    config.write_text(text.replace(f"endpoint: {url}/mediarithmics", f"endpoint: http://{host}:9/mediarithmics"))
    result = sandbox_ws.run("validate")
    assert result.code == 0, result.text
    assert "Warning" not in result.err


# -- 16.9 scrubbing, timeout, credential check ---------------------------------------------------
@pytest.mark.parametrize("mode", ["echo-json", "echo-text"])
@pytest.mark.parametrize("name", PROVIDERS)
def test_an_error_that_echoes_the_request_holds_no_credential(name: str, mode: str, tmp_path: Path) -> None:
    vendor = Vendor(mode)
    try:
        error = failure(name, vendor.url, tmp_path)
    finally:
        vendor.stop()
    assert isinstance(error, APIError) and error.status == 400, str(error)
    sent = json.dumps(vendor.received)
    text = str(error)
    assert [f for f in all_forms() if f in text] == [], text
    assert any(f in sent or f in json.loads(sent)[0]["body"] for f in all_forms())  # the server did get them


def test_mediarithmics_honours_timeout(tmp_path: Path) -> None:
    vendor = Vendor("slow", seconds=5)
    p = provider("mediarithmics", vendor.url, tmp_path, timeout=0.5)
    try:
        client = p.client  # type: ignore[attr-defined]
        assert client.http.timeout == 0.5
        client.http.retry = RetryPolicy(attempts=1)
        started = time.monotonic()
        with pytest.raises(TransportError):
            p.read("CleanRoom", ["5"])
        assert time.monotonic() - started < 3
    finally:
        p.close()  # type: ignore[attr-defined]
        vendor.stop()


BAD_VALUES = {"non-latin-1": "s3cr\u20acT", "newline": "s3cr3T\n", "typographic quote": "\u201cs3cr3T\u201d"}


@pytest.mark.parametrize("value", sorted(BAD_VALUES))
@pytest.mark.parametrize("name", PROVIDERS)
def test_a_credential_that_cannot_travel_is_a_clear_error(name: str, value: str, tmp_path: Path) -> None:
    bad = BAD_VALUES[value]
    configs = {
        "mediamath": ProviderConfig(name, "http://127.0.0.1:9", {"access_token": bad}, {}, tmp_path),
        "liveramp": ProviderConfig(name, "http://127.0.0.1:9", {"client_id": "c", "client_secret": bad},
                                   {"token_cache_dir": str(tmp_path)}, tmp_path),
        "mediarithmics": ProviderConfig(name, "http://127.0.0.1:9", {"token": bad}, {}, tmp_path),
    }
    cls = {"mediamath": MediaMathProvider, "liveramp": LiveRampProvider, "mediarithmics": MediarithmicsProvider}[name]
    with pytest.raises(WorkspaceError) as info:
        cls(configs[name])
    text = str(info.value)
    key = {"mediamath": "access_token", "liveramp": "client_secret", "mediarithmics": "token"}[name]
    assert text.startswith(f"providers.{name}.credentials.{key}: the value holds a "), text
    assert "cannot be sent in an HTTP header" in text and bad.strip() not in text


def test_a_non_latin_1_credential_through_the_cli(sandbox_ws: Workspace) -> None:
    shutil.copy(REPO / "examples" / "mediarithmics" / "clean-rooms.yaml", sandbox_ws.root / "clean-rooms.yaml")
    sandbox_ws.env["MICS_API_TOKEN"] = "demo-t\u20acken"
    result = sandbox_ws.run("plan")
    assert result.code == 1, result.text
    assert "providers.mediarithmics.credentials.token: the value holds a character outside Latin-1" in result.err
    assert "internal error" not in result.text and "UnicodeEncodeError" not in result.text


def test_a_password_outside_latin_1_still_logs_in_through_a_form(tmp_path: Path) -> None:
    """A MediaMath password travels in a form body (UTF-8): it is not refused."""
    config = ProviderConfig("mediamath", "http://127.0.0.1:9", {"username": "u", "password": "pässwörd\u20ac", "api_key": "k"},
                            {}, tmp_path)
    MediaMathProvider(config).close()
