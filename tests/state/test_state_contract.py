"""The state contract, held against every backend (``kind``: local files, and PostgreSQL).

Covers: a state nobody wrote reads as empty (local files: nothing on disk, lineage ""; PostgreSQL:
its row, made on connect, with a lineage), and the first write fixes the lineage for good; every ResourceState field round-tripping
to another instance (another process's view); serial +1 per record/forget and a lineage that never
changes; a crash (an instance dropped without releasing anything) leaving every acknowledged
change and the unfinished intent to the next instance; values that are not JSON (or fields of the
wrong type) refused before anything is written; intents and outcomes (unfinished in order,
duplicates, unknown ids, bad outcomes); a second instance following the writer; writes refused
while someone else holds the lock, allowed again once it is removed; 16 threads on two instances
recording concurrently, every serial handed out once; ``dump``/``restore`` keeping lineage,
serial, resources and unfinished intents.
"""

from __future__ import annotations

import threading
import uuid

import pytest

from reconciler.errors import LockError, StateError
from reconciler.state import ResourceState
from reconciler.state.base import Intent, StateDump

from .conftest import NO_COMPACT, Kind
from .factory import FULL, intent, simple, strategy


def test_empty_state_is_created_once_with_a_fixed_lineage(kind: Kind) -> None:
    first = kind.open().read()
    assert first.serial == 0
    assert first.resources == {}
    assert kind.open().unfinished_intents() == []
    writer = kind.open()
    writer.record(simple("a"))
    lineage = writer.read().lineage
    assert str(uuid.UUID(lineage)) == lineage
    assert first.lineage in ("", lineage)  # nothing stored yet, or the lineage the write kept
    assert kind.open().read().lineage == lineage  # the next process sees the same lineage


def test_every_field_round_trips(kind: Kind) -> None:
    full = FULL
    minimal = simple("minimal")
    writer = kind.open(compact_every=NO_COMPACT)
    writer.record(full)
    writer.record(minimal)
    assert writer.read().resources == {full.address: full, minimal.address: minimal}
    replayed = kind.open().read()
    assert replayed.resources == {full.address: full, minimal.address: minimal}
    assert list(replayed.resources) == sorted(replayed.resources)


def test_serial_counts_every_change_and_lineage_never_changes(kind: Kind) -> None:
    backend = kind.open()
    assert backend.record(simple("a")) == 1
    lineage = backend.read().lineage
    assert backend.record(simple("a", remote_id="2")) == 2  # replace counts too
    assert backend.record(simple("b")) == 3
    assert backend.forget("test.Thing/a") == 4
    backend.begin_intent(intent(1))  # intents do not change the serial
    backend.end_intent("intent-0001", "done")
    assert backend.read().serial == 4
    with backend.locked("apply"):  # compaction / journal trimming on release
        pass
    reopened = kind.open()
    assert reopened.read().serial == 4
    assert reopened.record(simple("c")) == 5
    assert reopened.read().lineage == lineage
    assert set(reopened.read().resources) == {"test.Thing/b", "test.Thing/c"}
    assert backend.read().serial == 5  # the first instance follows


def test_a_crash_leaves_every_acknowledged_change_and_the_write_in_flight(kind: Kind) -> None:
    crashed = kind.open(compact_every=NO_COMPACT)
    for n in range(6):
        crashed.record(strategy(n))
    lineage = crashed.read().lineage
    crashed.forget(strategy(2).address)
    crashed.begin_intent(intent(1))
    crashed.end_intent("intent-0001", "done")
    crashed.begin_intent(intent(2, "update"))
    crashed.close()  # no release, no compaction: the process died

    after = kind.open()
    snap = after.read()
    assert snap.lineage == lineage
    assert snap.serial == 7
    assert set(snap.resources) == {strategy(n).address for n in (0, 1, 3, 4, 5)}
    assert snap.resources[strategy(4).address] == strategy(4)
    assert after.unfinished_intents() == [intent(2, "update")]


def test_values_that_are_not_json_are_refused_before_anything_is_written(kind: Kind) -> None:
    backend = kind.open(compact_every=NO_COMPACT)
    backend.record(simple("ok"))
    with pytest.raises(StateError, match="test.Thing/bad: the resource cannot be stored as JSON"):
        backend.record(simple("bad", when={1, 2}))
    with pytest.raises(StateError, match="cannot be stored as JSON"):
        backend.record(simple("nan", ratio=float("nan")))
    with pytest.raises(StateError, match="provider: expected a non-empty string"):
        backend.record(ResourceState("test.Thing/x", "", "Thing", "1", {}, ""))
    with pytest.raises(StateError, match="cannot journal intent"):
        backend.begin_intent(Intent("i9", "test.Thing/x", "create", "test", "Thing", {"at": object()}))
    assert backend.read().serial == 1
    fresh = kind.open()
    assert fresh.read().serial == 1
    assert set(fresh.read().resources) == {"test.Thing/ok"}
    assert fresh.unfinished_intents() == []


def test_intents_without_outcome_are_unfinished(kind: Kind) -> None:
    backend = kind.open(compact_every=NO_COMPACT)
    for n in range(1, 5):
        backend.begin_intent(intent(n))
    backend.end_intent("intent-0001", "done")
    backend.end_intent("intent-0003", "failed")
    assert backend.unfinished_intents() == [intent(2), intent(4)]
    assert kind.open().unfinished_intents() == [intent(2), intent(4)]
    kind.open().end_intent("intent-0004", "recovered")
    assert backend.unfinished_intents() == [intent(2)]

    backend.end_intent("intent-0001", "done")  # already ended: a no-op
    with pytest.raises(StateError, match="no intent nope in the journal"):
        backend.end_intent("nope", "done")
    with pytest.raises(StateError, match="intent-0002 is already in the journal"):
        backend.begin_intent(intent(2))
    with pytest.raises(ValueError, match="outcome must be one of done, failed, recovered"):
        backend.end_intent("intent-0002", "ok")
    assert kind.open().unfinished_intents() == [intent(2)]


def test_unfinished_intents_survive_compaction_or_trimming(kind: Kind) -> None:
    backend = kind.open(compact_every=8)
    with backend.locked("apply"):
        backend.begin_intent(intent(1))
        backend.begin_intent(intent(2, "update"))
        backend.end_intent("intent-0001", "done")
        for n in range(5):
            backend.record(simple(f"r{n}", n=n))
    reopened = kind.open()
    assert reopened.unfinished_intents() == [intent(2, "update")]
    assert reopened.read().serial == 5
    reopened.end_intent("intent-0002", "done")
    assert kind.open().unfinished_intents() == []
    assert backend.unfinished_intents() == []


def test_a_second_instance_follows_the_writer(kind: Kind) -> None:
    writer = kind.open(compact_every=NO_COMPACT)
    reader = kind.open()
    assert reader.read().serial == 0
    writer.record(simple("a"))
    writer.record(simple("b"))
    assert set(reader.read().resources) == {"test.Thing/a", "test.Thing/b"}
    with writer.locked("apply"):  # compacts / trims the journal on release
        pass
    writer.forget("test.Thing/a")
    snap = reader.read()
    assert (snap.serial, set(snap.resources)) == (3, {"test.Thing/b"})


def test_writes_are_refused_while_someone_else_holds_the_lock(kind: Kind) -> None:
    backend = kind.open()
    backend.record(simple("a"))
    other, holder = kind.hold_elsewhere()
    with pytest.raises(LockError) as caught:
        backend.record(simple("b"))
    assert f"refusing to write {backend.where}: state {backend.where} is locked: {other.describe()}" in str(caught.value)
    with pytest.raises(LockError):
        backend.forget("test.Thing/a")
    with pytest.raises(LockError):
        backend.begin_intent(intent(1))
    assert backend.read().serial == 1
    if holder is not None:
        holder.release_lock(other)
    else:
        backend.force_unlock(other.id)
    assert backend.record(simple("b")) == 2


def test_sixteen_threads_record_concurrently(kind: Kind) -> None:
    backend = kind.open(compact_every=32)
    second = kind.open(compact_every=32)  # another instance in the same process
    per_thread = 25
    serials: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def work(t: int) -> None:
        target = backend if t % 2 else second
        try:
            start.wait()
            for n in range(per_thread):
                i = t * per_thread + n
                target.begin_intent(intent(i))
                serials.append(target.record(strategy(i)))
                target.end_intent(f"intent-{i:04d}", "done")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    total = 16 * per_thread
    assert sorted(serials) == list(range(1, total + 1))  # every serial handed out exactly once
    for view in (backend, second, kind.open()):
        snap = view.read()
        assert snap.serial == total
        assert snap.resources == {strategy(i).address: strategy(i) for i in range(total)}
        assert view.unfinished_intents() == []


def test_dump_and_restore_keep_lineage_serial_resources_and_unfinished_intents(kind: Kind) -> None:
    source = kind.open()
    for n in range(5):
        source.record(strategy(n))
    source.begin_intent(intent(7))
    dump = source.dump()
    assert (dump.serial, len(dump.resources), dump.intents) == (5, 5, (intent(7),))

    other = StateDump(str(uuid.uuid4()), 42, {strategy(9).address: strategy(9)}, (intent(8, "update"),))
    with source.locked("state push"):
        source.restore(other)
    for view in (source, kind.open()):
        snap = view.read()
        assert (snap.lineage, snap.serial, dict(snap.resources)) == (other.lineage, 42, dict(other.resources))
        assert view.unfinished_intents() == [intent(8, "update")]
    assert source.record(strategy(1)) == 43
    assert kind.open().dump().serial == 43
