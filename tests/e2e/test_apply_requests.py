"""``API requests: N`` after an apply counts every HTTP request the run sent (login, listings,
history, spend reports, the writes), as the MediaMath sandbox counted them."""

from __future__ import annotations

import re

from tests.e2e.conftest import ExampleWorkspace, Sandbox


def test_api_requests_count_what_the_sandbox_received(applied: ExampleWorkspace, mm: Sandbox) -> None:
    applied.edit("campaigns.yaml", "total_budget: 50000", "total_budget: 52000")
    mm.clear_counters()
    result = applied.run("apply", "--auto-approve")
    assert result.code == 0, result
    received = sum(mm.counters().values())
    (line,) = [line for line in result.out.splitlines() if line.startswith("API requests:")]
    match = re.fullmatch(r"API requests: (\d+); no retries\.", line)
    assert match, line
    assert received > 1 and int(match.group(1)) == received, (line, mm.counters())
