"""LocalBackend's files: snapshot + journal on real files in tmp_path (the rules every backend
keeps are in ``test_state_contract.py``, run against this backend too).

Covers: the empty snapshot's exact content; every ResourceState field through journal *and*
snapshot; compact sorted snapshot format; one durable journal line per record, no snapshot
rewrite; torn last line ignored and cut off before the next append; corrupt snapshots (not JSON,
JSON array, wrong/unknown format_version, missing lineage/serial, bad resource entries) and
corrupt journals (garbage line, array line, unknown op, bad record, lineage mismatch, serial gap,
journal newer than snapshot) as StateError naming file and line; a missing snapshot beside a
journal; file-system errors; the journal's lines for intents and outcomes; compaction keeping
unfinished intents, on threshold and on release_lock, and a crash between its two steps; the size
of 14,000 realistic resources (<= 2 KB each) with load and save times printed.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.state import LocalBackend
from reconciler.state.base import Intent

from .factory import FULL, intent, simple, strategy

NO_COMPACT = 10**9


def journal_lines(backend: LocalBackend) -> list[dict[str, object]]:
    return [json.loads(line) for line in backend.journal_path.read_text().splitlines() if line.strip()]


def snapshot_json(backend: LocalBackend) -> dict[str, object]:
    data = json.loads(backend.path.read_text())
    assert isinstance(data, dict)
    return data


# -- basics ------------------------------------------------------------------------------------------


def test_the_empty_snapshot_file(tmp_path: Path) -> None:
    path = tmp_path / ".reconciler" / "state.json"
    LocalBackend(path).compact()  # a write: makes the file
    first = LocalBackend(path).read()
    assert first.lineage
    assert snapshot_json(LocalBackend(path)) == {
        "format_version": 1,
        "lineage": first.lineage,
        "serial": 0,
        "resources": {},
    }



def test_every_field_round_trips_through_the_snapshot(tmp_path: Path) -> None:
    """(Through the journal: ``test_state_contract.py``.)"""
    path = tmp_path / "state.json"
    writer = LocalBackend(path, compact_every=NO_COMPACT)
    writer.record(FULL)
    writer.record(simple("minimal"))
    writer.compact()
    assert snapshot_json(writer)["serial"] == 2
    assert LocalBackend(path).read().resources == {FULL.address: FULL, "test.Thing/minimal": simple("minimal")}


def test_snapshot_is_compact_sorted_json(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "state.json")
    backend.record(simple("zeta", z=1, a=2))
    backend.record(simple("alpha"))
    backend.compact()
    text = backend.path.read_text()
    data = json.loads(text)
    assert text == json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    assert list(data["resources"]) == ["test.Thing/alpha", "test.Thing/zeta"]
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_each_record_is_one_durable_journal_line_not_a_snapshot_rewrite(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "state.json", compact_every=NO_COMPACT)
    backend.compact()  # the empty snapshot
    snapshot_before = backend.path.read_bytes()
    for n in range(5):
        backend.record(simple(f"r{n}"))
    lines = journal_lines(backend)
    assert [line["op"] for line in lines] == ["header", "record", "record", "record", "record", "record"]
    assert [line.get("serial") for line in lines[1:]] == [1, 2, 3, 4, 5]
    assert backend.path.read_bytes() == snapshot_before


# -- crash recovery ----------------------------------------------------------------------------------


def test_torn_last_line_is_ignored_and_cut_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    writer = LocalBackend(path, compact_every=NO_COMPACT)
    writer.record(simple("a"))
    writer.record(simple("b"))
    full_line = writer.journal_path.read_bytes().splitlines(keepends=True)[-1]
    with open(writer.journal_path, "ab") as handle:
        handle.write(full_line.replace(b'"serial":2', b'"serial":3')[: len(full_line) // 2])

    survivor = LocalBackend(path, compact_every=NO_COMPACT)
    assert survivor.read().serial == 2
    assert set(survivor.read().resources) == {"test.Thing/a", "test.Thing/b"}
    assert survivor.record(simple("c")) == 3
    raw = survivor.journal_path.read_bytes()
    assert raw.endswith(b"\n")
    assert [line["op"] for line in journal_lines(survivor)] == ["header", "record", "record", "record"]
    assert set(LocalBackend(path).read().resources) == {"test.Thing/a", "test.Thing/b", "test.Thing/c"}


def test_a_complete_line_without_its_newline_does_not_count(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    writer = LocalBackend(path, compact_every=NO_COMPACT)
    writer.record(simple("a"))
    line = json.dumps({"op": "forget", "serial": 2, "address": "test.Thing/a"})
    with open(writer.journal_path, "a") as handle:
        handle.write(line)  # crash before the newline reached the disk: never acknowledged
    assert LocalBackend(path).read().serial == 1


def test_crash_between_the_two_steps_of_a_compaction(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    backend = LocalBackend(path, compact_every=NO_COMPACT)
    for n in range(4):
        backend.record(simple(f"r{n}", n=n))
    backend.begin_intent(intent(1))
    old_journal = backend.journal_path.read_bytes()
    backend.compact()
    backend.journal_path.write_bytes(old_journal)  # snapshot replaced, journal rewrite lost

    reopened = LocalBackend(path)
    snap = reopened.read()
    assert snap.serial == 4
    assert snap.resources["test.Thing/r3"].applied_spec == {"n": 3}
    assert reopened.unfinished_intents() == [intent(1)]
    assert reopened.record(simple("r4")) == 5
    assert LocalBackend(path).read().serial == 5


def test_missing_snapshot_beside_a_journal_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    LocalBackend(path, compact_every=NO_COMPACT).record(simple("a"))
    path.unlink()
    with pytest.raises(StateError, match="state file is missing but its journal"):
        LocalBackend(path).read()
    assert not path.exists()  # no fresh lineage was made over the old journal


# -- a state file that is not a state ------------------------------------------------------------------

GOOD_RESOURCE = {"provider": "test", "kind": "Thing", "remote_id": "1", "applied_spec": {}, "fingerprint": ""}


def state_text(**overrides: object) -> str:
    data: dict[str, object] = {
        "format_version": 1,
        "lineage": "2b0a2a4e-93a3-4d5e-8d8a-7c2b5e9f3f10",
        "serial": 1,
        "resources": {"test.Thing/a": GOOD_RESOURCE},
    }
    for key, value in overrides.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data)


def bad_resource(**changes: object) -> dict[str, object]:
    entry: dict[str, object] = dict(GOOD_RESOURCE)
    for key, value in changes.items():
        if value is None:
            entry.pop(key)
        else:
            entry[key] = value
    return {"test.Thing/a": entry}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "the file is empty"),
        ("{not json", "invalid JSON"),
        ("provider: test\nkind: Thing\n", "invalid JSON"),
        ("[1, 2, 3]", "expected a JSON object, got an array"),
        ('"a string"', "expected a JSON object, got a string"),
        (state_text(format_version=None), "missing field 'format_version'"),
        (state_text(format_version="1"), "format_version: expected an integer"),
        (state_text(format_version=0), "unsupported format_version 0"),
        (state_text(format_version=2), "format_version 2 was written by a newer reconciler"),
        (state_text(lineage=None), "missing field 'lineage'"),
        (state_text(lineage=""), "lineage: expected a non-empty string"),
        (state_text(serial=None), "missing field 'serial'"),
        (state_text(serial=-1), "serial: expected a non-negative integer"),
        (state_text(serial=True), "serial: expected a non-negative integer, got a boolean"),
        (state_text(resources=None), "missing field 'resources'"),
        (state_text(resources=[]), "resources: expected an object, got an array"),
        (state_text(extra=1), "unknown field 'extra'"),
        (state_text(resources={"test.Thing/a": "x"}), "expected an object, got a string"),
        (state_text(resources=bad_resource(provider=None)), "missing field 'provider'"),
        (state_text(resources=bad_resource(kind=None)), "missing field 'kind'"),
        (state_text(resources=bad_resource(remote_id=None)), "missing field 'remote_id'"),
        (state_text(resources=bad_resource(remote_id=[1])), "remote_id: expected a non-empty string"),
        (state_text(resources=bad_resource(provider=3)), "provider: expected a non-empty string"),
        (state_text(resources=bad_resource(applied_spec=[])), "applied_spec: expected an object"),
        (state_text(resources=bad_resource(version="7")), "version: expected an integer"),
        (state_text(resources=bad_resource(dependencies="a")), "dependencies: expected an array of strings"),
        (state_text(resources=bad_resource(prevent_destory=True)), "unknown field 'prevent_destory'"),
    ],
)
def test_a_snapshot_that_is_not_a_state_is_a_clear_error(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(StateError) as caught:
        LocalBackend(path).read()
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert path.read_text() == content  # never overwritten


def test_resource_errors_name_the_address(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(state_text(resources=bad_resource(remote_id=None)))
    with pytest.raises(StateError, match=r"resources\['test.Thing/a'\]: missing field 'remote_id'"):
        LocalBackend(path).read()


def write_journal(backend: LocalBackend, *entries: object, raw_tail: str = "") -> None:
    lines = [json.dumps(e) if not isinstance(e, str) else e for e in entries]
    backend.journal_path.write_text("".join(f"{line}\n" for line in lines) + raw_tail)


HEADER = object()  # stands for a (second) valid header line in the cases below


def record_entry(serial: int, name: str = "a", **resource: object) -> dict[str, object]:
    return {
        "op": "record",
        "serial": serial,
        "address": f"test.Thing/{name}",
        "resource": {**GOOD_RESOURCE, **resource},
    }


@pytest.mark.parametrize(
    ("body", "line", "expected"),
    [
        ([record_entry(2), "garbage{", record_entry(3)], 3, "invalid JSON"),
        ([[1, 2]], 2, "expected a JSON object, got an array"),
        ([{"op": "rename", "serial": 2}], 2, "unknown op 'rename'"),
        ([{"serial": 2}], 2, "unknown op None"),
        (
            [record_entry(2, remote_id=None)],
            2,
            "record.resource.remote_id: expected a non-empty string, got null",
        ),
        ([{"op": "record", "serial": 2, "address": "test.Thing/a"}], 2, "missing field 'resource'"),
        ([{"op": "forget", "serial": "2", "address": "x"}], 2, "forget.serial: expected an integer"),
        (
            [{"op": "intent", "id": "i1", "address": "a", "action": "create", "provider": "p"}],
            2,
            "missing field 'kind'",
        ),
        ([{"op": "outcome", "id": "i1", "outcome": "maybe"}], 2, "expected one of done, failed, recovered"),
        ([record_entry(3)], 2, "entry has serial 3 but the state is at serial 1: entries are missing"),
        ([record_entry(2), HEADER], 3, "a journal header must be line 1"),
    ],
)
def test_a_journal_that_is_not_a_journal_is_a_clear_error(
    tmp_path: Path, body: list[object], line: int, expected: str
) -> None:
    path = tmp_path / "state.json"
    path.write_text(state_text())
    backend = LocalBackend(path)
    lineage = json.loads(state_text())["lineage"]
    head = {"op": "header", "format_version": 1, "lineage": lineage, "serial": 1}
    entries = [head if item is HEADER else item for item in body]
    write_journal(backend, head, *entries, raw_tail='{"op": "rec')  # torn tail: ignored, not the error
    with pytest.raises(StateError) as caught:
        backend.read()
    assert str(caught.value).startswith(f"{backend.journal_path}:{line}: ")
    assert expected in str(caught.value)


def test_journal_header_must_match_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(state_text())
    backend = LocalBackend(path)
    lineage = json.loads(state_text())["lineage"]

    write_journal(backend, {"op": "header", "format_version": 1, "lineage": str(uuid.uuid4()), "serial": 1})
    with pytest.raises(
        StateError,
        match=r"journal.jsonl:1: the journal belongs to state lineage .* they are from different states",
    ):
        backend.read()

    write_journal(backend, {"op": "header", "format_version": 1, "lineage": lineage, "serial": 9})
    with pytest.raises(
        StateError, match="continues from serial 9 but .* is at serial 1: the state file is older"
    ):
        backend.read()

    write_journal(backend, record_entry(2))
    with pytest.raises(StateError, match="journal.jsonl:1: a journal header must be line 1"):
        backend.read()

    write_journal(
        backend, {"op": "header", "format_version": 1, "lineage": lineage, "serial": 1}, record_entry(2)
    )
    assert backend.read().serial == 2  # repaired: the same instance reads it again


def test_file_system_errors_are_state_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(StateError, match="not-a-dir/state.json: cannot read the state: Not a directory"):
        LocalBackend(blocker / "state.json").read()
    with pytest.raises(StateError, match="not-a-dir/state.lock: cannot create the lock"):
        LocalBackend(blocker / "state.json").acquire_lock("apply")

    backend = LocalBackend(tmp_path / "state.json")
    backend.read()
    backend.journal_path.symlink_to(tmp_path / "gone" / "journal.jsonl")  # reads as absent, cannot be created
    with pytest.raises(StateError, match="journal.jsonl: cannot append to the journal"):
        backend.record(simple("a"))
    assert backend.read().serial == 0
    backend.journal_path.unlink()
    backend.journal_path.mkdir()
    with pytest.raises(StateError, match="journal.jsonl: cannot read the journal: Is a directory"):
        backend.read()


# -- intents -----------------------------------------------------------------------------------------


def test_intents_and_outcomes_are_journal_lines(tmp_path: Path) -> None:
    """(The rules for intents on every backend: ``test_state_contract.py``.)"""
    backend = LocalBackend(tmp_path / "state.json", compact_every=NO_COMPACT)
    for n in range(1, 4):
        backend.begin_intent(intent(n))
    backend.end_intent("intent-0001", "done")
    backend.end_intent("intent-0003", "failed")
    backend.end_intent("intent-0001", "done")  # already ended: a no-op, nothing appended
    ops = [line["op"] for line in journal_lines(backend)]
    assert ops == ["header", "intent", "intent", "intent", "outcome", "outcome"]
    assert journal_lines(backend)[-1] == {"op": "outcome", "id": "intent-0003", "outcome": "failed"}


# -- compaction ----------------------------------------------------------------------------------------


def test_compaction_on_threshold_keeps_unfinished_intents(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    backend = LocalBackend(path, compact_every=8)
    backend.begin_intent(intent(1))
    backend.begin_intent(intent(2, "update"))
    backend.end_intent("intent-0001", "done")
    for n in range(5):
        backend.record(simple(f"r{n}", n=n))
    # 8 entries reached: the snapshot now holds everything, the journal only what is unfinished
    assert snapshot_json(backend)["serial"] == 5
    assert journal_lines(backend) == [
        {"op": "header", "format_version": 1, "lineage": backend.read().lineage, "serial": 5},
        {"op": "intent", **{k: v for k, v in vars_of(intent(2, "update")).items()}},
    ]
    reopened = LocalBackend(path)
    assert reopened.unfinished_intents() == [intent(2, "update")]
    assert reopened.read().serial == 5
    reopened.end_intent("intent-0002", "done")
    assert LocalBackend(path).unfinished_intents() == []


def vars_of(i: Intent) -> dict[str, object]:
    return {
        "id": i.id,
        "address": i.address,
        "action": i.action,
        "provider": i.provider,
        "kind": i.kind,
        "spec": dict(i.spec),
        "remote_id": i.remote_id,
    }


def test_compaction_waits_until_the_journal_is_large_next_to_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    backend = LocalBackend(path, compact_every=4)
    backend.record_many([strategy(n) for n in range(200)])  # one big batch: compacts at its end
    assert snapshot_json(backend)["serial"] == 200
    for n in range(6):
        backend.record(strategy(n, version=50))  # 6 small lines next to a 200-resource snapshot
    assert snapshot_json(backend)["serial"] == 200
    assert len(journal_lines(backend)) == 7
    assert LocalBackend(path).read().resources[strategy(5).address].version == 50


def test_release_lock_compacts(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    backend = LocalBackend(path, compact_every=NO_COMPACT)
    with backend.locked("apply"):
        backend.begin_intent(intent(1))
        backend.record(simple("a"))
        backend.end_intent("intent-0001", "done")
        backend.begin_intent(intent(2))
        leftover = tmp_path / ".state.json.abc123.tmp"
        leftover.write_text("half a snapshot")  # what a crashed compaction leaves
    assert snapshot_json(backend)["serial"] == 1
    assert [line["op"] for line in journal_lines(backend)] == ["header", "intent"]
    assert not leftover.exists()
    assert not backend.lock_path.exists()


# -- several readers and writers -------------------------------------------------------------------------


# -- size and speed --------------------------------------------------------------------------------------


def test_fourteen_thousand_resources_fit_in_two_kilobytes_each(tmp_path: Path) -> None:
    count = 14_000
    path = tmp_path / "state.json"
    resources = [strategy(n) for n in range(count)]
    writer = LocalBackend(path)
    assert writer.record_many(resources) == count

    started = time.perf_counter()
    writer.compact()
    save_seconds = time.perf_counter() - started
    size = path.stat().st_size
    per_resource = size / count

    started = time.perf_counter()
    snap = LocalBackend(path).read()
    load_seconds = time.perf_counter() - started

    assert snap.serial == count
    assert len(snap.resources) == count
    assert snap.resources[resources[9_999].address] == resources[9_999]
    assert len(resources[0].applied_spec) >= 15
    print(
        f"\nstate size: {count} resources, {size} bytes, {per_resource:.0f} bytes/resource; "
        f"load {load_seconds * 1000:.0f} ms, save {save_seconds * 1000:.0f} ms, "
        f"load+save {(load_seconds + save_seconds) * 1000:.0f} ms"
    )
    assert per_resource <= 2048


def test_a_missing_state_reads_as_empty_and_is_made_by_the_first_write(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / ".reconciler" / "state.json")
    snapshot = backend.read()
    assert (snapshot.lineage, snapshot.serial, dict(snapshot.resources)) == ("", 0, {})
    assert not (tmp_path / ".reconciler").exists()  # reading wrote nothing
    serial = backend.record(simple("a"))
    after = LocalBackend(backend.path).read()
    assert serial == 1 and after.serial == 1 and after.lineage and "test.Thing/a" in after.resources
    assert backend.read().lineage == after.lineage
