"""``reconciler report`` on a copy of examples/mediamath (embedded sandbox): which campaigns it covers.

Aspects: by default the managed campaigns and strategies only; ``--all-campaigns`` alone reports
every campaign of the managed advertisers (every managed campaign, and one made outside
reconciler under the same advertiser), instead of claiming the manifests manage nothing; with
``--filter`` it reports what the filter picks.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.support.cli import REPO, invoke

CLONE = """\
---
apiVersion: mediamath/v1
kind: Campaign
metadata:
  name: winter-clone
spec:
  advertiser_id: {ref: Advertiser/acme-shoes}
  name: Winter Clone
  ad_server_id: 9
  service_type: SELF
  currency_code: USD
  zone_name: America/New_York
  start_date: "2026-12-01T00:00:00"
  end_date: "2027-01-31T23:59:59"
  goal_type: cpa
  goal_value: 12.5
  total_budget: 1000
  use_mm_freq: false
"""


def campaign_ids(root: Path, *args: str) -> list[str]:
    result = invoke(root, "report", "--format", "csv", "--field", "campaign_id", *args)
    assert result.code == 0, result
    return result.out.splitlines()[1:]


def test_all_campaigns_alone_reports_every_campaign_of_the_managed_advertisers(tmp_path: Path) -> None:
    root = tmp_path / "mediamath"
    shutil.copytree(REPO / "examples" / "mediamath", root, ignore=shutil.ignore_patterns(".reconciler"))
    with (root / "campaigns.yaml").open("a", encoding="utf-8") as fh:
        fh.write(CLONE)
    assert invoke(root, "apply", "--auto-approve", "--quiet").code == 0
    winter, clone = (json.loads(invoke(root, "state", "show", f"mediamath.Campaign/{name}").out)["remote_id"]
                     for name in ("winter-sale", "winter-clone"))
    assert invoke(root, "state", "rm", "mediamath.Campaign/winter-clone").code == 0  # now made "outside"
    text = (root / "campaigns.yaml").read_text()
    (root / "campaigns.yaml").write_text(text.replace(CLONE, ""))

    assert campaign_ids(root) == [winter]  # managed only (spring-launch has not started: no rows yet)
    assert sorted(campaign_ids(root, "--all-campaigns")) == sorted([winter, clone])
    assert campaign_ids(root, "--all-campaigns", "--filter", f"campaign_id={clone}") == [clone]

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "reconciler.yaml").write_text((root / "reconciler.yaml").read_text())
    nothing = invoke(empty, "report", "--all-campaigns")
    assert nothing.code == 1 and "the state holds no MediaMath advertisers, campaigns or strategies" in nothing.err
