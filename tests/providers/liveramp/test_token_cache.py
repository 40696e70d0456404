"""The LiveRamp token cache shared by every process of the user.

Aspects covered:
- 20 separate processes (subprocesses started together), each constructing the provider and
  reading, obtain exactly one token from the sandbox; a 100-process variant is marked slow.
- the 2-tokens-per-24-hours limit: a third client cache gets a RateLimitedError that explains
  the budget and names the cache file.
- reuse until 60 s before expiry, refetch after; a token the server refuses (401 after a
  sandbox reset) is dropped and replaced once.
- the file: mode 0600, keyed by a hash of endpoint + client id, never holding the secret;
  location from the option, ``RECONCILER_CACHE_DIR`` or the user cache directory.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import platformdirs
import pytest

from reconciler.errors import RateLimitedError
from reconciler.providers.liveramp.token_cache import (
    FILE_NAME,
    Token,
    TokenCache,
    cache_key,
    default_cache_dir,
)
from reconciler.sandbox.base import SandboxServer
from tests.providers.liveramp.helpers import make_provider
from tests.sandbox.liveramp.fixtures import Api

WORKER = """
import sys
from pathlib import Path
from reconciler.providers.base import ProviderConfig
from reconciler.providers.liveramp.provider import LiveRampProvider
config = ProviderConfig(name="liveramp", endpoint=sys.argv[1], credentials={"client_id": "demo-client", "client_secret": "demo-secret"},
                        options={"token_cache_dir": sys.argv[2]}, workspace_dir=Path(sys.argv[2]))
provider = LiveRampProvider(config)
rooms = provider.list_children("Cleanroom", None)
print(len(rooms))
provider.close()
"""


def _run_processes(server: SandboxServer, cache: Path, count: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RECONCILER_CACHE_DIR"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, f"{server.url}/liveramp", str(cache)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(count)
    ]
    results = [p.communicate(timeout=240) for p in procs]
    failures = [(p.returncode, err[-500:]) for p, (_, err) in zip(procs, results, strict=True) if p.returncode != 0]
    assert not failures, failures
    assert {out.strip() for out, _ in results} == {"1"}


@pytest.mark.parametrize("count", [20, pytest.param(100, marks=pytest.mark.slow)])
def test_many_processes_obtain_exactly_one_token(lr_server: SandboxServer, tmp_path: Path, count: int) -> None:
    api = Api(lr_server)
    api.cleanroom("shared")  # the arranging client uses its own token: count from here on
    api.control("POST", "tokens", json={"reset_budget": True})
    before = api.control("GET", "counters")["tokens_issued"]["demo-client"]
    _run_processes(lr_server, tmp_path / "cache", count)
    counters = api.control("GET", "counters")
    assert counters["tokens_issued"]["demo-client"] - before == 1
    assert counters.get("tokens_refused", {}) == {}


def test_the_daily_token_limit_is_enforced(lr_server: SandboxServer, tmp_path: Path) -> None:
    first = make_provider(lr_server, tmp_path / "a")
    second = make_provider(lr_server, tmp_path / "b")
    assert first.list_children("Cleanroom", None) == []
    assert second.list_children("Cleanroom", None) == []
    third = make_provider(lr_server, tmp_path / "c")
    with pytest.raises(RateLimitedError) as refused:
        third.list_children("Cleanroom", None)
    message = str(refused.value)
    assert "429" in message and "2 tokens per 24 h" in message and str(tmp_path / "c" / FILE_NAME) in message
    assert "demo-secret" not in message
    # the two that have a token keep working: they never ask again
    assert first.list_children("Cleanroom", None) == [] and make_provider(lr_server, tmp_path / "a").list_children("Cleanroom", None) == []
    assert Api(lr_server).control("GET", "counters")["tokens_issued"] == {"demo-client": 2}


def test_reuse_until_sixty_seconds_before_expiry(tmp_path: Path) -> None:
    fetched: list[Token] = []

    def fetch(lifetime: float) -> Token:
        token = Token(f"token-{len(fetched)}", time.time() + lifetime)
        fetched.append(token)
        return token

    cache = TokenCache(tmp_path, "https://api.example", "client-a")
    assert cache.get(lambda: fetch(3600)) == "token-0"
    assert TokenCache(tmp_path, "https://api.example", "client-a").get(lambda: fetch(3600)) == "token-0"
    assert len(fetched) == 1
    short = TokenCache(tmp_path, "https://api.example", "client-b")
    assert short.get(lambda: fetch(59)) == "token-1"
    assert TokenCache(tmp_path, "https://api.example", "client-b").get(lambda: fetch(3600)) == "token-2"  # 59 s left: refetch
    other_endpoint = TokenCache(tmp_path, "https://other.example", "client-a")
    assert other_endpoint.get(lambda: fetch(3600)) == "token-3"
    assert len(fetched) == 4
    data = json.loads((tmp_path / FILE_NAME).read_text())
    assert set(data) == {cache_key("https://api.example", "client-a"), cache_key("https://api.example", "client-b"), cache_key("https://other.example", "client-a")}
    assert "client-a" not in (tmp_path / FILE_NAME).read_text()
    assert stat.S_IMODE((tmp_path / FILE_NAME).stat().st_mode) == 0o600
    cache.invalidate("token-0")
    assert TokenCache(tmp_path, "https://api.example", "client-a").get(lambda: fetch(3600)) == "token-4"
    assert "token-" not in repr(cache) and "token-" not in repr(fetched[0])


def test_a_refused_token_is_replaced_once(lr_server: SandboxServer, tmp_path: Path) -> None:
    provider = make_provider(lr_server, tmp_path / "cache")
    api = Api(lr_server)
    api.cleanroom("before reset")
    assert len(provider.list_children("Cleanroom", None)) == 1
    old = json.loads((tmp_path / "cache" / FILE_NAME).read_text())
    lr_server.app.reset()  # the server forgets every token
    assert provider.list_children("Cleanroom", None) == []
    new = json.loads((tmp_path / "cache" / FILE_NAME).read_text())
    assert old != new
    assert Api(lr_server).control("GET", "counters")["tokens_issued"] == {"demo-client": 1}


def test_cache_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECONCILER_CACHE_DIR", raising=False)
    assert default_cache_dir(None, tmp_path) == Path(platformdirs.user_cache_dir("reconciler"))
    assert default_cache_dir("tokens", tmp_path) == tmp_path / "tokens"
    assert default_cache_dir("/abs/tokens", tmp_path) == Path("/abs/tokens")
    monkeypatch.setenv("RECONCILER_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir(None, tmp_path) == tmp_path / "env"
    assert default_cache_dir("opt", tmp_path) == tmp_path / "opt"
