"""The LiveRamp token cache shared by every process of the user.

Aspects covered:
- 20 separate processes (subprocesses started together), each constructing the provider and
  reading, obtain exactly one token from the sandbox; a 100-process variant is marked slow.
- the 2-tokens-per-24-hours limit: a third client cache gets a RateLimitedError that explains
  the budget and names the cache file.
- reuse until 60 s before expiry, refetch after; a token the server refuses (401 after a
  sandbox reset) is dropped and replaced once.
- the file: mode 0600, keyed by an HMAC of endpoint + client id keyed with the secret, never
  holding the secret or the client id; location from the option, ``RECONCILER_CACHE_DIR`` or the
  user cache directory.
- hostile or broken files (issue 16, item 10): an entry whose ``expires_at`` is not a number is
  ignored (one token over three runs, not one per run); a token planted under a key computable
  without the secret, or cached for another secret, is never used; a cache file that belongs to
  another user, is writable by others or is a symbolic link, and a directory others may write
  into, are refused with an error naming the file (nothing fetched, nothing written).
- the embedded sandbox (issue 15, item 2): its URL changes every run, its endpoint identity does
  not, so every run after the first reuses the cached token.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import platformdirs
import pytest

from reconciler.errors import ProviderError, RateLimitedError
from reconciler.providers.base import ProviderConfig
from reconciler.providers.liveramp.provider import LiveRampProvider
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

    cache = TokenCache(tmp_path, "https://api.example", "client-a", "secret-a")
    assert cache.get(lambda: fetch(3600)) == "token-0"
    assert TokenCache(tmp_path, "https://api.example", "client-a", "secret-a").get(lambda: fetch(3600)) == "token-0"
    assert len(fetched) == 1
    short = TokenCache(tmp_path, "https://api.example", "client-b", "secret-b")
    assert short.get(lambda: fetch(59)) == "token-1"
    assert TokenCache(tmp_path, "https://api.example", "client-b", "secret-b").get(lambda: fetch(3600)) == "token-2"  # 59 s left: refetch
    other_endpoint = TokenCache(tmp_path, "https://other.example", "client-a", "secret-a")
    assert other_endpoint.get(lambda: fetch(3600)) == "token-3"
    assert len(fetched) == 4
    data = json.loads((tmp_path / FILE_NAME).read_text())
    assert set(data) == {
        cache_key("https://api.example", "client-a", "secret-a"),
        cache_key("https://api.example", "client-b", "secret-b"),
        cache_key("https://other.example", "client-a", "secret-a"),
    }
    text = (tmp_path / FILE_NAME).read_text()
    assert "client-a" not in text and "secret-a" not in text
    assert stat.S_IMODE((tmp_path / FILE_NAME).stat().st_mode) == 0o600
    cache.invalidate("token-0")
    assert TokenCache(tmp_path, "https://api.example", "client-a", "secret-a").get(lambda: fetch(3600)) == "token-4"
    assert "token-" not in repr(cache) and "token-" not in repr(fetched[0])


def _fetcher(fetched: list[str]) -> Callable[[], Token]:
    def fetch() -> Token:
        fetched.append(f"fresh-{len(fetched)}")
        return Token(fetched[-1], time.time() + 3600)

    return fetch


def test_entries_that_are_not_well_formed_are_ignored(tmp_path: Path) -> None:
    """A non-numeric ``expires_at`` broke every run and spent a token each time (6 in 3 runs)."""
    later = time.time() + 3600
    (tmp_path / FILE_NAME).write_text(json.dumps({
        "broken": {"access_token": "x", "expires_at": "soon"},
        "not-an-object": [1, 2],
        "no-token": {"expires_at": later},
        cache_key("https://api.example", "client", "secret"): {"access_token": {"nested": 1}, "expires_at": later},
    }))
    os.chmod(tmp_path / FILE_NAME, 0o600)
    fetched: list[str] = []
    for _ in range(3):  # three runs: one token
        assert TokenCache(tmp_path, "https://api.example", "client", "secret").get(_fetcher(fetched)) == "fresh-0"
    assert fetched == ["fresh-0"]
    kept = json.loads((tmp_path / FILE_NAME).read_text())
    assert set(kept) == {"no-token", cache_key("https://api.example", "client", "secret")}


def test_a_planted_token_is_never_used(tmp_path: Path) -> None:
    endpoint, client = "https://api.example", "client"
    unkeyed = hashlib.sha256(f"{endpoint}\n{client}".encode()).hexdigest()[:32]  # needs no secret
    later = time.time() + 3600
    (tmp_path / FILE_NAME).write_text(json.dumps({
        unkeyed: {"access_token": "planted-1", "expires_at": later},
        cache_key(endpoint, client, "another-secret"): {"access_token": "planted-2", "expires_at": later},
    }))
    os.chmod(tmp_path / FILE_NAME, 0o600)
    fetched: list[str] = []
    assert TokenCache(tmp_path, endpoint, client, "the-secret").get(_fetcher(fetched)) == "fresh-0"
    assert TokenCache(tmp_path, endpoint, client, "another-secret").get(_fetcher(fetched)) == "planted-2"


@pytest.mark.parametrize("hostile", ["writable-file", "symlink", "writable-dir", "foreign-file"])
def test_unsafe_cache_files_are_refused(tmp_path: Path, hostile: str) -> None:
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    path = directory / FILE_NAME
    path.write_text("{}")
    os.chmod(path, 0o600)
    if hostile == "writable-file":
        os.chmod(path, 0o666)
    elif hostile == "symlink":
        elsewhere = tmp_path / "elsewhere.json"
        elsewhere.write_text("{}")
        path.unlink()
        path.symlink_to(elsewhere)
    elif hostile == "writable-dir":
        os.chmod(directory, 0o777)
    else:
        if os.geteuid() != 0:
            pytest.skip("giving a file to another user needs root")
        os.chown(path, 4242, -1)
    fetched: list[str] = []
    with pytest.raises(ProviderError) as refused:
        TokenCache(directory, "https://api.example", "client", "secret").get(_fetcher(fetched))
    message = str(refused.value)
    assert "refusing the LiveRamp token cache" in message and str(directory) in message
    assert fetched == [] and "secret" not in message.replace("token_cache_dir", "")
    assert not [p for p in directory.iterdir() if p.name.startswith(".liveramp")]


def test_a_sticky_shared_directory_is_accepted(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    os.chmod(directory, 0o1777)  # like /tmp: others may create files, not replace ours
    fetched: list[str] = []
    assert TokenCache(directory, "https://api.example", "client", "secret").get(_fetcher(fetched)) == "fresh-0"


def test_the_embedded_sandbox_keeps_one_cache_entry_across_runs(lr_server: SandboxServer, tmp_path: Path) -> None:
    """Each run of the embedded sandbox listens on a new port: the identity, not the URL, keys the token."""
    identity = "sandbox+file:///work/x/.reconciler/sandbox.sqlite#/liveramp"
    before = Api(lr_server).control("GET", "counters")["tokens_issued"].get("demo-client", 0)
    for port_path in ("/liveramp", "/liveramp/"):  # two "runs" whose URLs differ
        config = ProviderConfig(
            name="liveramp",
            endpoint=f"{lr_server.url}{port_path}",
            credentials={"client_id": "demo-client", "client_secret": "demo-secret"},
            options={"token_cache_dir": str(tmp_path / "cache")},
            workspace_dir=tmp_path,
            endpoint_identity=identity,
        )
        provider = LiveRampProvider(config)
        assert provider.list_children("Cleanroom", None) == []
        assert provider.client.cache.key == cache_key(identity, "demo-client", "demo-secret")
        provider.close()
    assert Api(lr_server).control("GET", "counters")["tokens_issued"]["demo-client"] - before == 1


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
