"""``reconciler sandbox info`` and ``reconciler sandbox serve`` from the command line.

Aspects covered:
- ``info`` names what a newcomer needs to write a first manifest: the MediaMath organisation
  (name and id), ad servers, verticals, the users ``demo`` and ``jdoe`` (and what each is for),
  the LiveRamp organisation and API client, the mediarithmics organisation ids and the ``docs``
  seed's rooms, and every emulator's demo credentials and path; ``--format json`` says the same
  as data; ``--api`` filters and an unknown one is a clear error (issue 15, item 3);
- ``serve``: a negative port and one above 65535 are usage errors naming ``--port`` (nothing
  served); the banner lists each path prefix once and says the sandbox is for this machine
  (issues 15 item 3, 16 item 11).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import REPO, invoke


def test_info_names_what_a_first_manifest_needs(tmp_path: Path) -> None:
    result = invoke(tmp_path, "sandbox", "info")
    assert result.code == 0, result
    out = result.out
    for expected in (
        "organization  100048  ACME Org", "organization  100050  Globex Org",
        "user          2       jdoe", "/_sandbox/mediamath/edit",
        "ad_server     9       TerminalOne", "vertical      13      Food & Beverages",
        "username=demo  password=demo-password  api_key=demo-api-key",
        "client_id=demo-client  client_secret=demo-secret", "Demo Advertiser",
        "organisation  1863  AV Sub 1.2", "clean_room  22  Activation Clean room", "token=demo-token",
        "/mediamath/api/v2.0", "/liveramp/v1", "/mediarithmics/v1", "/mediamath/reporting/v2",
        "seed estate:", "this machine only",
    ):
        assert expected in out, expected
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_info_as_json_and_filtered(tmp_path: Path) -> None:
    result = invoke(tmp_path, "sandbox", "info", "--format", "json", "--api", "mediarithmics", "--api", "mediamath")
    assert result.code == 0, result
    data = json.loads(result.out)
    assert [item["api"] for item in data] == ["mediamath", "mediarithmics"]
    mediamath = data[0]
    assert mediamath["credentials"] == {"username": "demo", "password": "demo-password", "api_key": "demo-api-key"}
    default = next(s for s in mediamath["seeds"] if s["name"] == "default")
    users = {e["name"]: e for e in default["entries"] if e["kind"] == "user"}
    assert set(users) == {"demo", "jdoe", "outsider"} and "out-of-band" in users["jdoe"]["note"]
    orgs = [e["id"] for e in data[1]["seeds"][0]["entries"] if e["kind"] == "organisation"]
    assert orgs == ["1581", "1752", "1863"]
    unknown = invoke(tmp_path, "sandbox", "info", "--api", "habu")
    assert unknown.code == 1 and "--api habu: no such emulator" in unknown.err


@pytest.mark.parametrize("port", ["-1", "65536", "70000"])
def test_serve_refuses_ports_outside_the_tcp_range(tmp_path: Path, port: str) -> None:
    result = invoke(tmp_path, "sandbox", "serve", "--port", port, "--data", str(tmp_path / "s.sqlite"))
    assert result.code == 1, result  # a usage error (DESIGN §6: usage errors exit 1)
    assert "Invalid value for '--port'" in result.err and "0<=x<=65535" in result.err
    assert not (tmp_path / "s.sqlite").exists()


def test_serve_banner_lists_each_prefix_once(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "sandbox", "serve", "--port", "0", "--data", str(tmp_path / "s.sqlite")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert re.match(r"^Sandbox on http://127\.0\.0\.1:\d+ \(", banner), banner
    prefixes = re.findall(r"(/[a-z-]+)[,)]", banner)
    assert sorted(prefixes) == ["/liveramp", "/mediamath", "/mediamath-auth", "/mediarithmics"], banner
    assert "for this machine only" in banner
