"""Hostile HTTP answers to every provider's calls (issue 9 item 5).

A tiny werkzeug server on 127.0.0.1 (port 0) stands in for each vendor host and answers the
providers' calls (MediaMath, LiveRamp, mediarithmics, through their real provider classes and
through the CLI) with:

- XML with entity expansion (billion laughs) and with an external entity naming a local file;
- truncated bodies (a Content-Length longer than what is sent), XML and JSON;
- wrong content types (HTML labelled JSON, JSON labelled HTML, no content type);
- JSON nested a million levels deep (a "JSON bomb" for recursive decoders), XML nested 200,000
  deep (also inside ``<errors>``, which the MediaMath error reader walks);
- huge bodies: an announced multi-gigabyte Content-Length, an endless body without one, and a
  gzip bomb (256 MiB inflating from a few hundred KiB): the client refuses past its limit and
  stops reading (the server sees it stop; tracemalloc's peak stays near the limit);
- non-JSON error pages (HTML 4xx/5xx);
- slow-loris: a body trickling in, every byte within the client timeout, for ever.

Each gives a clear error (a :class:`reconciler.errors.ProviderError` naming the call, no secret),
no hang (pytest-timeout) and no crash; through the CLI: exit 1 and ``Error:``, never a
traceback. A grep-style test checks that XML is parsed only through defusedxml in ``reconciler/``.
"""

from __future__ import annotations

import ast
import gzip
import json
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from reconciler.cli.main import cli
from reconciler.errors import ProviderError, ReconcilerError
from reconciler.providers import http as http_module
from reconciler.providers.base import Provider, ProviderConfig
from reconciler.providers.http import HttpClient
from reconciler.providers.liveramp.provider import LiveRampProvider
from reconciler.providers.mediamath.provider import MediaMathProvider
from reconciler.providers.mediarithmics.client import MediarithmicsClient
from reconciler.providers.mediarithmics.client import error_message as mics_error_message
from reconciler.providers.mediarithmics.provider import MediarithmicsProvider
from reconciler.state.base import ResourceState
from reconciler.state.local import LocalBackend

REPO = Path(__file__).resolve().parents[2]
API_KEY = "hostile-api-key-7731"
PASSWORD = "hostile-password-7731"
SECRET_FILE_TEXT = "TOP-SECRET-FILE-CONTENT-5521"

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
        for i in range(1, 10)
    )
    + b']>\n<result><entities count="1" start="0"><entity id="1" name="&lol9;" type="campaign"/></entities>'
    b'<status code="ok"/></result>'
)


def xxe(path: Path) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file://{path}">]>\n'
        '<result><entities count="1" start="0"><entity id="1" name="&x;" type="campaign"/></entities>'
        '<status code="ok"/></result>'
    ).encode()


_GZIP_BOMB: list[bytes] = []


def gzip_bomb() -> bytes:
    """256 MiB of JSON whitespace, gzip-compressed to a few hundred KiB (made once)."""
    if not _GZIP_BOMB:
        _GZIP_BOMB.append(gzip.compress(b"[" + b" " * (256 << 20) + b"]", compresslevel=6))
    return _GZIP_BOMB[0]


class Hostile:
    """WSGI app: auth calls answer properly, every other call gets ``self.mode``'s answer."""

    def __init__(self, secret_file: Path) -> None:
        self.mode = "ok"
        self.secret_file = secret_file
        self.sent = 0  # bytes of a streamed body handed to the server so far
        self.hostile_auth = False

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self.respond(request)
        return response(environ, start_response)

    def respond(self, request: Request) -> Response:
        path = request.path
        if not self.hostile_auth and path.endswith("/login"):
            body = '<?xml version="1.0"?><result><entity name="u" id="1" type="user"/><session sessionid="s"/><status code="ok"/></result>'
            response = Response(body, content_type="text/xml")
            response.set_cookie("adama_session", "s")
            return response
        if not self.hostile_auth and path.endswith("/oauth/token"):
            return Response(json.dumps({"accessToken": "t0k", "tokenType": "Bearer", "expiresIn": 3600}), content_type="application/json")
        return getattr(self, "mode_" + self.mode.replace("-", "_"))(request)

    # -- the answers -----------------------------------------------------------------------------
    def mode_billion_laughs(self, request: Request) -> Response:
        return Response(BILLION_LAUGHS, content_type="text/xml")

    def mode_external_entity(self, request: Request) -> Response:
        return Response(xxe(self.secret_file), content_type="text/xml")

    def mode_truncated_json(self, request: Request) -> Response:
        body = b'{"status": "ok", "data": [{"id": "1", "na'
        return Response(body, content_type="application/json", headers={"Content-Length": "5000"})

    def mode_truncated_xml(self, request: Request) -> Response:
        body = b'<?xml version="1.0"?><result><entities count="1" start="0"><entity id="1" na'
        return Response(body, content_type="text/xml", headers={"Content-Length": "5000"})

    def mode_html_as_json(self, request: Request) -> Response:
        return Response("<html><body>Welcome to nginx!</body></html>", content_type="application/json")

    def mode_json_as_html(self, request: Request) -> Response:
        return Response('{"status": "ok", "data": []}', content_type="text/html")

    def mode_json_wrong_shape(self, request: Request) -> Response:
        return Response('{"unexpected": {"id": 1}, "data": "x", "meta": 7}', content_type="application/json")

    def mode_json_scalars(self, request: Request) -> Response:
        return Response('[1, "two", null, [3]]', content_type="application/json")

    def mode_no_content_type(self, request: Request) -> Response:
        response = Response(b"\x00\x01garbage\xff")
        del response.headers["Content-Type"]
        return response

    def mode_json_bomb(self, request: Request) -> Response:
        depth = 1_000_000
        return Response(b"[" * depth + b"]" * depth, content_type="application/json")

    def mode_xml_bomb_depth(self, request: Request) -> Response:
        depth = 200_000
        return Response(b"<result>" + b"<a>" * depth + b"</a>" * depth + b"</result>", content_type="text/xml")

    def mode_xml_deep_errors(self, request: Request) -> Response:
        """Deep nesting where the error reader walks (``<errors>``), under a well-formed status."""
        depth = 200_000
        body = b'<result><status code="invalid"/><errors>' + b"<a>" * depth + b"</a>" * depth + b"</errors></result>"
        return Response(body, content_type="text/xml")

    def mode_announced_huge(self, request: Request) -> Response:
        def body() -> Iterator[bytes]:
            chunk = b" " * 65536
            for _ in range(8192):  # 512 MiB at most, if the client were to read it all
                self.sent += len(chunk)
                yield chunk

        return Response(body(), content_type="application/json", headers={"Content-Length": str(8 << 30)})

    def mode_endless(self, request: Request) -> Response:
        def body() -> Iterator[bytes]:
            chunk = b"[" + b"1," * 32767
            for _ in range(8192):  # 512 MiB at most, if the client were to read it all
                self.sent += len(chunk)
                yield chunk

        return Response(body(), content_type="application/json", direct_passthrough=True)

    def mode_gzip_bomb(self, request: Request) -> Response:
        return Response(gzip_bomb(), content_type="application/json", headers={"Content-Encoding": "gzip"})

    def mode_token_bad_expiry(self, request: Request) -> Response:
        body = {"accessToken": "t0k", "tokenType": "Bearer", "expiresIn": "soon", "expiresAt": "tomorrow"}
        return Response(json.dumps(body), content_type="application/json")

    def mode_html_400(self, request: Request) -> Response:
        return Response("<html><head><title>400 Bad Request</title></head><body>nope</body></html>", status=400, content_type="text/html")

    def mode_html_403(self, request: Request) -> Response:
        return Response("<!DOCTYPE html><html><body><h1>Access denied</h1></body></html>", status=403, content_type="text/html")

    def mode_plain_502(self, request: Request) -> Response:
        return Response("Bad Gateway", status=502, content_type="text/plain")

    def mode_slow_loris(self, request: Request) -> Response:
        def body() -> Iterator[bytes]:
            yield b'{"status": "ok", "data": ['
            for _ in range(600):  # 60 s of trickle, 0.1 s per byte
                time.sleep(0.1)
                self.sent += 1
                yield b" "
            yield b"]}"

        return Response(body(), content_type="application/json", direct_passthrough=True)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hostile, str]]:
    secret = tmp_path_factory.mktemp("secret") / "secret.txt"
    secret.write_text(SECRET_FILE_TEXT)
    app = Hostile(secret)
    gzip_bomb()  # built before any memory is measured
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the real retry loop (attempt count, error mapping) but without its backoff sleeps."""
    monkeypatch.setattr(http_module.RetryPolicy, "delay", lambda self, attempt, retry_after: 0.01)


def make_provider(name: str, url: str, tmp: Path, timeout: float = 2.0) -> Provider:
    if name == "mediamath":
        config = ProviderConfig(
            name="mediamath",
            endpoint=f"{url}/mediamath",
            credentials={"username": "u", "password": PASSWORD, "api_key": API_KEY},
            options={"timeout": timeout},
            workspace_dir=tmp,
        )
        return MediaMathProvider(config)
    if name == "liveramp":
        config = ProviderConfig(
            name="liveramp",
            endpoint=f"{url}/liveramp",
            credentials={"client_id": "c", "client_secret": PASSWORD},
            options={"timeout": timeout, "token_cache_dir": str(tmp / "tokens")},
            workspace_dir=tmp,
        )
        return LiveRampProvider(config)
    config = ProviderConfig(
        name="mediarithmics",
        endpoint=f"{url}/mediarithmics",
        credentials={"token": PASSWORD},
        options={"organisation_id": "1863"},
        workspace_dir=tmp,
    )
    return MediarithmicsProvider(config)


READS = {"mediamath": ("Campaign", ["1"]), "liveramp": ("Cleanroom", ["r1"]), "mediarithmics": ("CleanRoom", ["5"])}
PROVIDERS = sorted(READS)


def read_error(name: str, url: str, tmp: Path, timeout: float = 2.0) -> ReconcilerError:
    provider = make_provider(name, url, tmp, timeout)
    if isinstance(provider, MediarithmicsProvider):
        # the provider has no timeout option (30 s): its own client class with a short one
        http = HttpClient(f"{url}/mediarithmics", timeout=timeout, error_message=mics_error_message)
        provider._client = MediarithmicsClient(http, PASSWORD)
    kind, ids = READS[name]
    try:
        with pytest.raises(ReconcilerError) as info:
            provider.read(kind, ids)
    finally:
        provider.close()
    return info.value


def assert_clear(error: ReconcilerError) -> None:
    text = str(error)
    assert isinstance(error, ProviderError), f"{type(error).__name__}: {text}"
    assert "127.0.0.1" in text, text  # names the call
    for secret in (API_KEY, PASSWORD, SECRET_FILE_TEXT):
        assert secret not in text, text
    assert len(text) < 2000, text[:300]


MODES = [
    "billion-laughs",
    "external-entity",
    "truncated-json",
    "truncated-xml",
    "html-as-json",
    "json-as-html",
    "json-wrong-shape",
    "json-scalars",
    "no-content-type",
    "json-bomb",
    "xml-bomb-depth",
    "xml-deep-errors",
    "html-400",
    "html-403",
    "plain-502",
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_hostile_answer_gives_a_clear_error(hostile: tuple[Hostile, str], tmp_path: Path, provider: str, mode: str) -> None:
    app, url = hostile
    app.mode = mode
    assert_clear(read_error(provider, url, tmp_path))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("mode", ["billion-laughs", "external-entity", "html-as-json", "truncated-json"])
def test_hostile_auth_answer_gives_a_clear_error(hostile: tuple[Hostile, str], tmp_path: Path, provider: str, mode: str) -> None:
    """The login / token call itself answers with hostile content."""
    app, url = hostile
    app.mode, app.hostile_auth = mode, True
    try:
        assert_clear(read_error(provider, url, tmp_path))
    finally:
        app.hostile_auth = False


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["announced-huge", "endless", "gzip-bomb"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_huge_body_is_refused_past_the_limit(
    hostile: tuple[Hostile, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str, mode: str
) -> None:
    limit = 1 << 20
    monkeypatch.setattr(http_module, "MAX_BODY_BYTES", limit)
    app, url = hostile
    app.mode, app.sent = mode, 0
    tracemalloc.start()
    try:
        error = read_error(provider, url, tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_clear(error)
    assert "larger than" in str(error), str(error)
    assert peak < 32 * limit, f"peak memory {peak} bytes while refusing a body over {limit}"
    time.sleep(0.2)
    # the client stopped reading: the server could not hand over much more than the limit
    # (plus socket buffers), and never the 512 MiB the body would have been
    assert app.sent < 64 * limit, app.sent


@pytest.mark.timeout(60)
def test_token_answer_with_unreadable_expiry_still_works(hostile: tuple[Hostile, str], tmp_path: Path) -> None:
    """A token answer whose expiry cannot be read is used with a default lifetime, not a crash."""
    app, url = hostile
    app.mode, app.hostile_auth = "token-bad-expiry", True
    try:
        error = read_error("liveramp", url, tmp_path)  # every call answers the token body
    finally:
        app.hostile_auth = False
    assert_clear(error)
    assert "expiresIn" not in str(error)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_slow_loris_body_times_out(hostile: tuple[Hostile, str], tmp_path: Path, provider: str) -> None:
    """Every byte arrives within the client's timeout, the body never ends: a clear error."""
    app, url = hostile
    app.mode = "slow-loris"
    started = time.monotonic()
    error = read_error(provider, url, tmp_path, timeout=1.0)
    assert_clear(error)
    assert "timeout" in str(error) or "connection failed" in str(error), str(error)
    assert time.monotonic() - started < 6 * 3  # six attempts, each cut off after about 1 s


def write_state(root: Path, provider: str, kind: str, remote_id: str) -> None:
    backend = LocalBackend(root / ".reconciler" / "state.json")
    backend.record(
        ResourceState(
            address=f"{provider}.{kind}/x", provider=provider, kind=kind, remote_id=remote_id, applied_spec={}, fingerprint=""
        )
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["billion-laughs", "json-bomb", "html-as-json", "truncated-json", "endless"])
def test_cli_plan_against_a_hostile_host_exits_1_with_a_message(
    hostile: tuple[Hostile, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(http_module, "MAX_BODY_BYTES", 1 << 20)
    app, url = hostile
    app.mode = mode
    root = tmp_path / "ws"
    root.mkdir()
    (root / "reconciler.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Workspace\nproviders:\n"
        f"  mediamath:\n    endpoint: {url}/mediamath\n    timeout: 2\n"
        '    credentials: {username: "${env:H_USER}", password: "${env:H_PASSWORD}", api_key: "${env:H_KEY}"}\n'
        f"  liveramp:\n    endpoint: {url}/liveramp\n    timeout: 2\n    token_cache_dir: {tmp_path / 'tokens'}\n"
        '    credentials: {client_id: "${env:H_USER}", client_secret: "${env:H_PASSWORD}"}\n'
        f"  mediarithmics:\n    endpoint: {url}/mediarithmics\n    organisation_id: '1863'\n"
        '    credentials: {token: "${env:H_PASSWORD}"}\n'
    )
    env = {"H_USER": "u", "H_PASSWORD": PASSWORD, "H_KEY": API_KEY}
    for provider, kind, remote_id in (
        ("mediamath", "Campaign", "1"),
        ("liveramp", "Cleanroom", "r1"),
        ("mediarithmics", "CleanRoom", "5"),
    ):
        write_state(root, provider, kind, remote_id)
    result = CliRunner().invoke(cli, ["-C", str(root), "plan"], env=env, catch_exceptions=False)
    text = result.stdout + result.stderr
    assert result.exit_code == 1, text
    assert "Error:" in text and "internal error" not in text and "Traceback" not in text, text
    for secret in (API_KEY, PASSWORD):
        assert secret not in text


# -- defusedxml everywhere ------------------------------------------------------------------------------
XML_MODULES = ("xml.etree", "xml.dom", "xml.sax", "xml.parsers", "lxml", "xmlrpc", "pyexpat", "expat")
# names of the standard library's XML modules that only *build* documents (the sandbox renders XML)
BUILD_ONLY = frozenset({"Element", "SubElement", "tostring", "indent", "ElementTree", "QName", "Comment", "register_namespace"})
PARSE_NAMES = frozenset({"fromstring", "parse", "iterparse", "XML", "XMLParser", "XMLPullParser", "parseString", "fromstringlist", "XMLID", "make_parser", "ParserCreate"})


def xml_violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    aliases: set[str] = set()
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(XML_MODULES):
                    aliases.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(XML_MODULES):
            for alias in node.names:
                if alias.name not in BUILD_ONLY:
                    problems.append(f"{path}:{node.lineno}: from {node.module} import {alias.name}")
                elif alias.name == "ElementTree" and node.module == "xml.etree":
                    aliases.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PARSE_NAMES:
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in aliases:
                problems.append(f"{path}:{node.lineno}: {ast.unparse(node)} parses XML without defusedxml")
    return problems


def test_xml_is_parsed_only_through_defusedxml() -> None:
    files = sorted((REPO / "reconciler").rglob("*.py"))
    assert len(files) > 20
    problems = [p for f in files for p in xml_violations(f)]
    assert problems == []


def test_the_xml_check_catches_a_plain_parser(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import xml.etree.ElementTree as ET\nfrom lxml import etree\nfrom xml.dom.minidom import parseString\n"
        "def f(b):\n    return ET.fromstring(b)\n"
    )
    found = xml_violations(bad)
    assert any("ET.fromstring" in p for p in found), found
    assert any("lxml import etree" in p for p in found), found
    assert any("parseString" in p for p in found), found
    good = tmp_path / "good.py"
    good.write_text("import xml.etree.ElementTree as ET\nfrom defusedxml import ElementTree as SafeET\ndef f(b):\n    return SafeET.fromstring(b), ET.Element('x')\n")
    assert xml_violations(good) == []
