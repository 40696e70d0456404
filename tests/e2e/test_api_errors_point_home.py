"""A vendor's refusal at apply names the address, the manifest file and line, and the manifest's
field (translated back from the vendor's name), keeping the vendor's message and status
(issue 17), one test per provider, on its example against its emulator over HTTP.

- MediaMath: a second budget flight overlapping the first (``start_date: overlaps ...``);
- LiveRamp: a dataset mapping a field its data connection does not have
  (``datasetFieldMappings[0]: unknown field ...`` -> ``spec.field_mappings``);
- mediarithmics (writes enabled): a room inviting an organisation that does not exist
  (``unknown organisation ...`` -> ``spec.members``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.sandbox import SandboxServer
from reconciler.sandbox.liveramp.app import LiveRampEmulator
from tests.e2e.conftest import ExampleWorkspace, copy_example, serve

MM_CREDENTIALS = {"username": "demo", "password": "demo-password", "api_key": "demo-api-key"}


def refused(ws: ExampleWorkspace) -> str:
    result = ws.run("apply", "--auto-approve")
    assert result.code == 1, result
    assert "Traceback" not in result.text
    return result.err


def test_mediamath_a_refusal_names_file_line_and_field(mm_server: SandboxServer, tmp_path: Path) -> None:
    ws = copy_example("mediamath", tmp_path / "mediamath", mm_server.url, MM_CREDENTIALS)
    with (ws.root / "budget-flights.yaml").open("a", encoding="utf-8") as fh:
        fh.write("""---
apiVersion: mediamath/v1
kind: BudgetFlight
metadata:
  name: winter-sale-extra
spec:
  campaign_id: {ref: Campaign/winter-sale}
  start_date: "2026-12-15T00:00:00-05:00"
  end_date: "2027-01-15T23:59:59-05:00"
  total_budget: 1000
""")
    err = refused(ws)
    lines = (ws.root / "budget-flights.yaml").read_text().splitlines()
    starts = {  # whichever of the two overlapping flights was sent second is refused
        "winter-sale-main": lines.index('  start_date: "2026-12-01T00:00:00-05:00"') + 1,
        "winter-sale-extra": lines.index('  start_date: "2026-12-15T00:00:00-05:00"') + 1,
    }
    assert any(f"mediamath.BudgetFlight/{name}: failed: budget-flights.yaml:{line}: spec.start_date: POST " in err
               for name, line in starts.items()), err
    assert "HTTP 400" in err and "overlaps budget flight" in err


def test_liveramp_a_refusal_names_the_manifest_field_not_the_vendors(lr_server: SandboxServer, tmp_path: Path) -> None:
    cache = {"RECONCILER_CACHE_DIR": str(tmp_path / "token-cache")}
    ws = copy_example("liveramp", tmp_path / "liveramp", lr_server.url, dict(LiveRampEmulator.demo_credentials), cache)
    ws.edit("03-dataset.yaml", "    - field: loyalty_tier\n", "    - field: no_such_column\n")
    err = refused(ws)
    line = (ws.root / "03-dataset.yaml").read_text().splitlines().index("  field_mappings:") + 1
    assert f"liveramp.CleanroomDataset/crm-in-retail: failed: 03-dataset.yaml:{line}: spec.field_mappings: " in err, err
    assert "HTTP 400" in err and "datasetFieldMappings[0]: unknown field 'no_such_column'" in err


@pytest.fixture
def mics_server() -> Iterator[SandboxServer]:
    yield from serve(["mediarithmics"])


def test_mediarithmics_a_refusal_names_file_line_and_field(mics_server: SandboxServer, tmp_path: Path) -> None:
    ws = copy_example("mediarithmics", tmp_path / "mics", mics_server.url, {"token": "demo-token"})
    config = ws.root / "reconciler.yaml"
    config.write_text(config.read_text() + "    writes: enabled\n", encoding="utf-8")
    ws.edit("clean-rooms.yaml", '    - organisation_id: "1581"\n', '    - organisation_id: "9999"\n')
    err = refused(ws)
    line = next(i for i, text in enumerate((ws.root / "clean-rooms.yaml").read_text().splitlines(), 1)
                if text.startswith("  members:") and i > 20)
    assert f"mediarithmics.CleanRoom/activation: failed: clean-rooms.yaml:{line}: spec.members: " in err, err
    assert "HTTP 400" in err and "unknown organisation 9999" in err
