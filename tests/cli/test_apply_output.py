"""What apply prints: one line per resource that changed, unchanged ones only counted, honest
verbs, plain-word requests and retries, ``--quiet``, and progress (a bar on a terminal, a line
every N seconds in CI).

Aspects: 6 changes among 350 resources give 6 lines plus the summary; ``--quiet`` prints the
summary alone; deletes say "deleted" (the memory provider really deletes; MediaMath's
"deactivated" is covered in tests/e2e); a skipped resource says why in one clause; CI mode prints
``apply: N of M done ... left`` lines; a pseudo-terminal gets a progress bar with counts and ETA.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.conftest import REPO, Workspace


def items(names: list[str], price: float = 1.0) -> str:
    docs = ["apiVersion: memory/v1\nkind: Folder\nmetadata:\n  name: shelf\nspec:\n  name: Shelf\n  color: blue\n"]
    for name in names:
        docs.append(
            f"apiVersion: memory/v1\nkind: Item\nmetadata:\n  name: {name}\nspec:\n"
            f"  name: {name}\n  folder_id: {{ref: Folder/shelf}}\n  price: {price}\n"
        )
    return "---\n".join(docs)


def estate(ws: Workspace, count: int) -> list[str]:
    names = [f"item-{i:03d}" for i in range(count)]
    ws.write("manifests/main.yaml", items(names))
    return names


def test_six_changes_among_350_resources_print_six_lines_and_a_summary(ws: Workspace) -> None:
    names = estate(ws, 349)  # and the folder: 350 resources
    first = ws.run("apply", "--auto-approve")
    assert first.code == 0, first
    assert "Apply complete: 350 created." in first.out

    text = items([*names[1:], "item-new"])  # item-000 removed, one added
    for name in names[1:5]:  # four price changes
        text = text.replace(f"  name: {name}\n  folder_id: {{ref: Folder/shelf}}\n  price: 1.0",
                            f"  name: {name}\n  folder_id: {{ref: Folder/shelf}}\n  price: 2.5")
    ws.write("manifests/main.yaml", text)
    result = ws.run("apply", "--auto-approve")
    assert result.code == 0, result

    # the resource lines and the summary on stdout (``apply > log`` keeps them all), nothing on stderr
    assert result.err == "", result.err
    lines = [line for line in result.out.splitlines() if line.startswith("memory.")]
    assert len(lines) == 6, result.out
    assert result.out.splitlines()[-8:-2] == lines  # just before the summary
    assert sorted(re.sub(r" \(id [\w-]+\)", "", line) for line in lines) == [
        "memory.Item/item-000: deleted",
        "memory.Item/item-001: updated",
        "memory.Item/item-002: updated",
        "memory.Item/item-003: updated",
        "memory.Item/item-004: updated",
        "memory.Item/item-new: created",
    ]
    summary, requests = result.out.splitlines()[-2:]
    assert summary == "Apply complete: 1 created, 4 updated, 1 deleted; 345 unchanged.", result.out
    assert re.fullmatch(r"API requests: \d+; no retries\.", requests), result.out
    assert "no changes" not in result.text and "done" not in result.text

    quiet = ws.run("apply", "--auto-approve", "--quiet")
    assert quiet.code == 0 and quiet.err == "", quiet
    assert quiet.out == "Apply complete: nothing to change; 350 unchanged.\n", quiet


def test_quiet_prints_the_summary_and_errors_only(ws: Workspace) -> None:
    ws.configure("fail_rate: 1.0\nfail_mode: before\n")  # every write fails with a 5xx or a 429
    result = ws.run("apply", "--auto-approve", "--quiet")
    assert result.code == 1, result
    out = result.out.splitlines()
    assert out[0].startswith("Apply finished with problems: 1 failed, 2 skipped."), result.out
    assert re.fullmatch(r"API requests: \d+; retries: \d+ \(.*\)\.", out[1]), result.out
    assert len(out) == 2, result.out
    assert result.err.startswith("Error: apply finished with 3 resource(s) not applied"), result.err
    assert "memory.Item/report: skipped: it depends on memory.Folder/docs, which did not apply" in result.err
    assert "skipped: skipped" not in result.err


def test_a_skipped_resource_says_why_once(ws: Workspace) -> None:
    ws.configure("fail_rate: 1.0\nfail_mode: before\n")
    result = ws.run("apply", "--auto-approve")
    assert "memory.Item/memo: skipped because it depends on memory.Folder/docs, which did not apply" in result.out
    assert re.search(r"^memory\.Folder/docs: failed: ", result.out, re.MULTILINE), result.out


def test_ci_mode_prints_a_progress_line_every_n_seconds(ws: Workspace) -> None:
    ws.configure("latency: 0.1\n")
    estate(ws, 12)
    result = ws.run("apply", "--auto-approve", "--parallelism", "1", "--progress-every", "0.25", env={"CI": "true"})
    assert result.code == 0, result
    progress = [line for line in result.err.splitlines() if line.startswith("apply: ")]
    assert len(progress) >= 2, result.err
    assert re.fullmatch(r"apply: \d+ of 13 done \(\d+ created\), \d+s elapsed, about \d+s left", progress[-1]), progress
    done = [int(line.split()[1]) for line in progress]
    assert done == sorted(done), progress  # counts only go up
    assert result.out.splitlines()[-2] == "Apply complete: 13 created."

    quiet = ws.run("destroy", "--auto-approve", "--quiet", "--progress-every", "0.05", env={"CI": "true"})
    assert quiet.code == 0 and quiet.err == "", quiet  # --quiet: no progress lines either


def _run_on_a_terminal(root: Path, *args: str, timeout: float = 60.0) -> tuple[int, str]:
    """``reconciler ARGS`` with stdout and stderr on a pseudo-terminal; (exit code, all output)."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    env.update({"PYTHONPATH": str(REPO), "COLUMNS": "160", "TERM": "xterm-256color"})
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "-C", str(root), *args],
                            stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(leader)
    code = proc.wait(timeout=10)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_gets_a_progress_bar_with_counts_and_eta(ws: Workspace) -> None:
    ws.configure("latency: 0.1\n")
    estate(ws, 12)
    code, output = _run_on_a_terminal(ws.root, "apply", "--auto-approve", "--parallelism", "1")
    assert code == 0, output
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    assert re.search(r"apply .*━.* \d+/13 elapsed \d:\d\d:\d\d ETA (\d:\d\d:\d\d|-:--:--)", plain), plain[-3000:]
    assert re.search(r"\d+/13 .*\d+ created", plain), plain[-3000:]
    assert "memory.Item/item-011: created" in plain
    assert "Apply complete: 13 created." in plain
    assert not re.search(r"^apply: \d+ of 13 done", plain, re.MULTILINE)  # no CI lines on a terminal
