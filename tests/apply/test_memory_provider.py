"""The MemoryProvider test double behaves like a small vendor API (so engine tests mean something).

Covers: remote data shared by two provider instances (processes) on one file; every write bumps
the version and a stale VERSION precondition is refused; the money-string quirk normalised on
read and in ``normalize``; natural-key lookup (duplicates allowed remotely, oldest wins); schema
validation, immutable fields and non-empty folder deletes refused with HTTP 400/409; history with
who/old/new; block_after_create + signal file; one-shot and seeded random faults; stats().
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from reconciler.errors import AmbiguousMatchError, APIError, NotFoundError, RateLimitedError, ServerError
from reconciler.providers.base import Precondition, PreconditionFailed, PreconditionKind
from tests.support.memory_provider import MemoryProvider

V = PreconditionKind.VERSION


def test_two_instances_share_the_remote_and_versions_guard_writes(tmp_path: Path):
    one, two = MemoryProvider.at(tmp_path / "r.json"), MemoryProvider.at(tmp_path / "r.json")
    created = one.create("Folder", {"name": "a", "color": "red"})
    assert created.version == 1 and created.fields == {"name": "a", "color": "red", "size": 0, "labels": {},
                                                       "region": "eu"}
    seen = two.read("Folder", [created.remote_id, "folder-99"])
    assert list(seen) == [created.remote_id]
    updated = two.update("Folder", created.remote_id, {"size": 4}, Precondition(V, 1))
    assert updated.version == 2 and updated.fields["size"] == 4
    with pytest.raises(PreconditionFailed) as info:
        one.update("Folder", created.remote_id, {"size": 5}, Precondition(V, 1))
    assert "version 1 is stale (current 2)" in str(info.value) and info.value.current.version == 2
    with pytest.raises(PreconditionFailed):
        one.delete("Folder", created.remote_id, Precondition(V, 1))
    one.delete("Folder", created.remote_id, Precondition(V, 2))
    with pytest.raises(NotFoundError):
        two.delete("Folder", created.remote_id, Precondition(V, 2))


def test_money_quirk_natural_keys_and_history(tmp_path: Path):
    p = MemoryProvider.at(tmp_path / "r.json")
    f = p.create("Folder", {"name": "f"})
    first = p.create("Item", {"name": "pen", "folder_id": f.remote_id, "price": 2.5})
    p.create("Item", {"name": "pen", "folder_id": f.remote_id})  # names are not unique remotely
    assert first.fields["price"] == 2.5
    raw = (tmp_path / "r.json").read_text()
    assert '"price": "2.50"' in raw
    assert p.normalize("Item", {"price": "2.5"})["price"] == 2.5
    with pytest.raises(AmbiguousMatchError, match="2 live objects match") as ambiguous:  # both pens
        p.find_by_natural_key("Item", {"folder_id": f.remote_id, "name": "pen", "price": 9})
    assert ambiguous.value.remote_ids == (first.remote_id, "item-3")
    [[one, two]] = p.find_existing("Item", [{"folder_id": f.remote_id, "name": "pen"}])
    assert (one.remote_id, two.remote_id) == (first.remote_id, "item-3")
    assert p.find_by_natural_key("Item", {"folder_id": "folder-404", "name": "pen"}) is None
    assert [o.remote_id for o in p.list_children("Item", f.remote_id)] == ["item-2", "item-3"]
    p.edit_out_of_band("Item", first.remote_id, {"price": 3}, user="carol")
    [added, changed] = p.history("Item", first.remote_id)
    assert added.action == "add" and added.user == "reconciler"
    assert (changed.user, changed.field, changed.old, changed.new) == ("carol", "price", "2.50", "3.00")


def test_bad_writes_are_refused_like_an_api_would(tmp_path: Path):
    p = MemoryProvider.at(tmp_path / "r.json")
    with pytest.raises(APIError, match=r"HTTP 400.*color: 'pink' is not one of"):
        p.create("Folder", {"name": "x", "color": "pink"})
    with pytest.raises(APIError, match="folder_id 'folder-9' does not exist"):
        p.create("Item", {"name": "i", "folder_id": "folder-9"})
    f = p.create("Folder", {"name": "f"})
    with pytest.raises(APIError, match="region is immutable"):
        p.update("Folder", f.remote_id, {"region": "us"}, Precondition(V, 1))
    p.create("Item", {"name": "i", "folder_id": f.remote_id})
    with pytest.raises(APIError, match="HTTP 409.*not empty"):
        p.delete("Folder", f.remote_id, Precondition(V, 1))
    assert p.objects("Folder")[0].version == 1  # refused writes change nothing


def test_block_after_create_waits_for_the_signal_file(tmp_path: Path):
    signal = tmp_path / "go"
    p = MemoryProvider.at(tmp_path / "r.json", block_after_create="slow", signal_file=str(signal))
    p.create("Folder", {"name": "fast"})
    done = threading.Event()
    worker = threading.Thread(target=lambda: (p.create("Folder", {"name": "slow"}), done.set()))
    worker.start()
    deadline = time.monotonic() + 10
    while not Path(f"{signal}.reached").exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert len(p.objects("Folder")) == 2 and not done.wait(0.1)  # created remotely, not returned
    signal.touch()
    worker.join(10)
    assert done.is_set()


def test_faults_one_shot_and_seeded(tmp_path: Path):
    p = MemoryProvider.at(tmp_path / "r.json")
    p.fail_next("create", after=True, error="rate_limited", name="x")
    with pytest.raises(RateLimitedError) as info:
        p.create("Folder", {"name": "x"})
    assert info.value.retry_after == 0.01 and len(p.objects("Folder")) == 1  # landed, answer lost
    p.create("Folder", {"name": "y"})  # the fault was one-shot

    def outcomes(seed: int) -> list[str]:
        q = MemoryProvider.at(tmp_path / f"s{seed}.json", fail_rate=0.3, seed=seed)
        out = []
        for n in range(40):
            try:
                q.create("Folder", {"name": f"n{n}"})
                out.append("ok")
            except (ServerError, RateLimitedError) as exc:
                out.append(type(exc).__name__)
        return out

    first = outcomes(3)
    assert first == outcomes(3)
    assert 6 <= sum(o != "ok" for o in first) <= 20
    stats = p.stats()
    assert stats["requests"] == 2 and stats["rate_limited"] == 1  # objects() is a test peek, not a request
