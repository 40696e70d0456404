"""The CI examples: GitHub Actions workflows, GitLab CI file and pre-commit hook, checked as files
and run for real against the sandbox (MediaMath emulator on 127.0.0.1) by a local runner
(``tests/adopt/cirunner.py``) with harmless stand-ins for secrets, ``gh`` and ``git push``. Both
variants run: the recipes with the state in PostgreSQL (``examples/ci/github-actions``,
``examples/ci/gitlab``: a real PostgreSQL, the session's throwaway cluster, nothing committed
back) and the single-runner ones with the state committed to git (``examples/ci/git-state``).

Aspects covered:
- every file is valid YAML with the expected triggers, permissions and jobs; ``run:`` steps
  hold no ``${{ }}`` (everything comes in through env), and use only known actions;
- GitHub: plan-on-pull-request posts the Markdown plan as a comment (COMMENT_CMD) and uploads
  the saved plan; apply-on-merge downloads it, applies exactly it and commits the state; of two
  pull requests planned against the same state, the second merged is refused as stale (exit 3,
  a clear ``::error``), its change is not applied and the state commit step still runs; the
  nightly drift job passes, then fails with exit 2 after an out-of-band edit, with the report
  in the job summary;
- GitLab: the same three jobs (merge-request plan with note and artifact, apply of the fetched
  plan, stale refusal, scheduled drift failing on drift);
- ``.pre-commit-hooks.yaml`` offers ``reconciler validate``; its entry passes on valid
  manifests and fails (exit 1, file and line) on a broken one.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import yaml

from reconciler.sandbox import SandboxServer
from reconciler.state import StateBackend, open_backend
from tests.adopt.cirunner import GitHubRunner, GitLabRunner, JobResult, load_workflow
from tests.adopt.conftest import REPO, SANDBOX_ENV
from tests.support.postgres import PASSWORD as PG_PASSWORD

GHA = REPO / "examples" / "ci" / "github-actions"
GITLAB = REPO / "examples" / "ci" / "gitlab" / ".gitlab-ci.yml"
GIT_STATE = REPO / "examples" / "ci" / "git-state"


@dataclass(frozen=True)
class Variant:
    """Where the recipes keep the state: PostgreSQL (``pg`` settings) or git."""

    gha: Path
    gitlab: Path
    pg: dict[str, Any] | None = None

    @property
    def secrets(self) -> dict[str, str]:
        return {**SECRETS, **({"RECONCILER_PG_URL": self.pg["url"]} if self.pg else {})}

    def state(self, repo: Path) -> StateBackend:
        return open_backend(self.pg or {"backend": "local"}, repo)


@pytest.fixture(params=["postgres", "git"])
def variant(request: pytest.FixtureRequest) -> Variant:
    if request.param == "git":
        return Variant(GIT_STATE / "github-actions", GIT_STATE / "gitlab" / ".gitlab-ci.yml")
    return Variant(GHA, GITLAB, dict(request.getfixturevalue("pg_settings")))
PRE_COMMIT = REPO / ".pre-commit-hooks.yaml"
RECONCILER = f"{shlex.quote(sys.executable)} -m reconciler"
SECRETS = {k: v for k, v in SANDBOX_ENV.items() if k.startswith("MM_")}
MANIFESTS = ("organization.yaml", "agency.yaml", "advertiser.yaml", "campaigns.yaml")
WINTER, SPRING = "mediamath.Campaign/winter-sale", "mediamath.Campaign/spring-launch"


# -- the files ----------------------------------------------------------------------------------
@pytest.mark.parametrize("directory", [GHA, GIT_STATE / "github-actions"], ids=["postgres", "git"])
def test_github_workflows_are_valid_and_testable(directory: Path) -> None:
    files = sorted(p.name for p in directory.glob("*.yml"))
    assert files == ["reconciler-apply.yml", "reconciler-drift.yml", "reconciler-plan.yml"]
    plan, apply, drift = (load_workflow(directory / f"reconciler-{n}.yml") for n in ("plan", "apply", "drift"))
    postgres = directory == GHA
    assert list(plan["on"]) == ["pull_request"]
    assert apply["on"]["pull_request"]["types"] == ["closed"]
    assert apply["jobs"]["apply"]["if"] == "github.event.pull_request.merged == true"
    assert apply["concurrency"]["cancel-in-progress"] is False
    assert set(drift["on"]) == {"schedule", "workflow_dispatch"} and drift["on"]["schedule"][0]["cron"]
    assert plan["permissions"]["pull-requests"] == "write"
    assert apply["permissions"]["contents"] == ("read" if postgres else "write")  # git: commits the state
    for workflow in (plan, apply, drift):
        assert set(SANDBOX_ENV) - {"NO_COLOR"} <= set(workflow["env"])  # every provider's credentials
        assert ("RECONCILER_PG_URL" in workflow["env"]) is postgres
        assert ("[postgres]" in workflow["env"]["RECONCILER_PIP"]) is postgres
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                assert ("run" in step) != ("uses" in step)
                if "run" in step:
                    assert "${{" not in step["run"], step
                else:
                    assert step["uses"].split("@")[0] in {
                        "actions/checkout",
                        "actions/setup-python",
                        "actions/upload-artifact",
                        "actions/download-artifact",
                    }


@pytest.mark.parametrize("path", [GITLAB, GIT_STATE / "gitlab" / ".gitlab-ci.yml"], ids=["postgres", "git"])
def test_gitlab_file_is_valid(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    postgres = path == GITLAB
    assert ("after_script" in data["reconciler-apply"]) is not postgres  # git: commits the state after
    assert ("[postgres]" in data["variables"]["RECONCILER_PIP"]) is postgres
    assert data["stages"] == ["plan", "apply", "drift"]
    rules = {
        job: data[job]["rules"][0]["if"]
        for job in ("reconciler-plan", "reconciler-apply", "reconciler-drift")
    }
    assert "merge_request_event" in rules["reconciler-plan"]
    assert "CI_DEFAULT_BRANCH" in rules["reconciler-apply"] and data["reconciler-apply"]["resource_group"]
    assert '"schedule"' in rules["reconciler-drift"]
    assert data["reconciler-plan"]["artifacts"]["paths"] == ["reconciler-plan/"]
    for job in rules:
        for key in ("script", "after_script"):
            assert all(isinstance(line, str) for line in data[job].get(key, [])), (job, key)  # no stray ': '
    assert all(isinstance(line, str) for line in data["default"]["before_script"])


def test_pre_commit_hook_runs_reconciler_validate(tmp_path: Path) -> None:
    hooks = yaml.safe_load(PRE_COMMIT.read_text())
    (hook,) = [h for h in hooks if h["id"] == "reconciler-validate"]
    assert hook["entry"] == "reconciler validate" and hook["language"] == "python"
    assert hook["pass_filenames"] is False
    ws = tmp_path / "repo"
    ws.mkdir()
    (ws / "reconciler.yaml").write_text("apiVersion: reconciler/v1\nkind: Workspace\n")
    shutil.copy(REPO / "examples" / "mediarithmics" / "clean-rooms.yaml", ws / "rooms.yaml")
    command = [sys.executable, "-m", "reconciler", *hook["entry"].split()[1:]]
    good = subprocess.run(command, cwd=ws, capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stderr
    (ws / "rooms.yaml").write_text(
        (ws / "rooms.yaml").read_text().replace("purposes: [INSIGHTS]", "purposes: [NOPE]")
    )
    bad = subprocess.run(command, cwd=ws, capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "rooms.yaml:" in bad.stderr and "NOPE" in bad.stderr


# -- running them --------------------------------------------------------------------------------
def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=dev", "-c", "user.email=dev@example.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def make_repo(root: Path, url: str, variant: Variant) -> Path:
    repo = root / "repo"
    repo.mkdir()
    state = (
        f'state: {{backend: postgres, url: "${{env:RECONCILER_PG_URL}}", schema: {variant.pg["schema"]}}}\n'
        if variant.pg
        else ""
    )
    (repo / "reconciler.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Workspace\nproviders:\n  mediamath:\n"
        f"    endpoint: {url}/mediamath\n"
        '    credentials: {username: "${env:MM_USERNAME}", password: "${env:MM_PASSWORD}", api_key: "${env:MM_API_KEY}"}\n'
        + state
    )
    for name in MANIFESTS:
        shutil.copy(REPO / "examples" / "mediamath" / name, repo / name)
    (repo / ".gitignore").write_text(
        ".reconciler/sandbox.sqlite\n.reconciler/*.lock\nreconciler-plan/\nreconciler-drift/\n"
    )
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "manifests")  # no state yet: the first apply commits it
    return repo


def with_budget(original: str, campaign: str, budget: int) -> str:
    """campaigns.yaml with one campaign's total_budget changed."""
    docs = original.split("\n---\n")
    out = []
    for doc in docs:
        if f"name: {campaign}\n" in doc:
            head, _, rest = doc.partition("total_budget: ")
            doc = f"{head}total_budget: {budget}\n{rest.split(chr(10), 1)[1]}"
        out.append(doc)
    return "\n---\n".join(out)


def commit_campaigns(repo: Path, text: str, message: str) -> None:
    (repo / "campaigns.yaml").write_text(text)
    git(repo, "commit", "--quiet", "-am", message)


def state_id(repo: Path, address: str, variant: Variant) -> int:
    backend = variant.state(repo)
    try:
        return int(backend.read().resources[address].remote_id)
    finally:
        backend.close()


def live_budget(url: str, repo: Path, address: str, variant: Variant) -> float:
    """A campaign's total_budget as the emulator holds it (control endpoint, no API call)."""
    response = requests.get(
        f"{url}/_sandbox/mediamath/get",
        params={"collection": "campaigns", "id": state_id(repo, address, variant)},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    budget = response.json()["total_budget"]
    if isinstance(budget, list):
        budget = budget[0]["value"]
    return float(budget)


def edit_out_of_band(url: str, repo: Path, address: str, budget: int, variant: Variant) -> None:
    response = requests.post(
        f"{url}/_sandbox/mediamath/edit",
        json={"collection": "campaigns", "id": state_id(repo, address, variant), "fields": {"total_budget": budget}},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def github(repo: Path, runs: Path, run_id: int, event: dict[str, Any], variant: Variant, **env: str) -> GitHubRunner:
    context = {
        "secrets": variant.secrets,
        "github": {"token": "not-a-token", "repository": "acme/ads", "event": event},
    }
    stand_ins = {"RECONCILER_CMD": RECONCILER, "PLAN_RUN_ID": str(run_id), "GIT_PUSH_CMD": "true", **env}
    return GitHubRunner(repo, runs / str(run_id), context, stand_ins)


def pull_request(number: int, sha: str) -> dict[str, Any]:
    return {"pull_request": {"number": number, "merged": True, "head": {"sha": sha}, "base": {"ref": "main"}}}


def assert_ok(job: JobResult) -> None:
    assert job.code == 0, job.output


def test_github_workflows_plan_apply_refuse_stale_and_drift(
    sandbox: SandboxServer, tmp_path: Path, variant: Variant
) -> None:
    repo = make_repo(tmp_path, sandbox.url, variant)
    runs = tmp_path / "artifacts"
    gha = variant.gha

    # PR 1 creates everything
    sha = git(repo, "rev-parse", "HEAD").strip()
    comment = tmp_path / "comment-1.md"
    plan = github(repo, runs, 1, pull_request(1, sha), variant, COMMENT_CMD=f"cat > {shlex.quote(str(comment))}")
    job = plan.run(gha / "reconciler-plan.yml", "plan")
    assert_ok(job)
    assert job.outputs["plan"]["exitcode"] == "2"
    body = comment.read_text()
    assert body.startswith(f"### reconciler plan for {sha[:12]}") and "mediamath.Campaign/winter-sale" in body
    assert "Merging this pull request applies exactly this plan" in body and body.strip() in job.summary
    assert (runs / "1" / "reconciler-plan" / "plan.json").is_file()
    # the full text plan is in the artifact, and the comment (the summary first) links it
    full = (runs / "1" / "reconciler-plan" / "plan.txt").read_text()
    assert full.startswith("Summary: ") and "mediamath.Campaign/winter-sale will be created" in full
    assert f"Full text plan: [plan.txt in the reconciler-plan artifact](file://{runs / '1' / 'reconciler-plan'})" in body
    assert body.index("**Summary:**") < body.index("<details>")

    job = github(repo, runs, 1, pull_request(1, sha), variant).run(gha / "reconciler-apply.yml", "apply")
    assert_ok(job)
    assert live_budget(sandbox.url, repo, WINTER, variant) == 50000
    if variant.pg:  # the state is in the database: nothing in the checkout, nothing committed
        assert not (repo / ".reconciler").exists()
        assert git(repo, "log", "-1", "--format=%s").strip() == "manifests"
    else:
        assert "state after applying #1" in git(repo, "log", "-1", "--format=%s")
    assert git(repo, "status", "--porcelain", "--", ".reconciler") == ""

    # PR 2 and PR 3 are both planned against this state; PR 2 is merged first
    original = (repo / "campaigns.yaml").read_text()
    commit_campaigns(repo, with_budget(original, "Winter Sale 2026", 60000), "PR 2")
    plan2 = github(
        repo, runs, 2, pull_request(2, "sha2"), variant, COMMENT_CMD=f"cat > {shlex.quote(str(tmp_path / 'c2.md'))}"
    )
    assert_ok(plan2.run(gha / "reconciler-plan.yml", "plan"))
    assert "total_budget" in (tmp_path / "c2.md").read_text()
    commit_campaigns(repo, with_budget(original, "Spring Launch 2027", 70000), "PR 3")
    plan3 = github(repo, runs, 3, pull_request(3, "sha3"), variant, COMMENT_CMD="cat > /dev/null")
    assert_ok(plan3.run(gha / "reconciler-plan.yml", "plan"))
    commit_campaigns(repo, with_budget(original, "Winter Sale 2026", 60000), "main: PR 2 merged")

    assert_ok(github(repo, runs, 2, pull_request(2, "sha2"), variant).run(gha / "reconciler-apply.yml", "apply"))
    assert live_budget(sandbox.url, repo, WINTER, variant) == 60000

    stale = github(repo, runs, 3, pull_request(3, "sha3"), variant).run(gha / "reconciler-apply.yml", "apply")
    assert stale.code == 3, stale.output
    assert stale.failed is not None and stale.failed.name == "Apply the saved plan"
    assert "::error title=reconciler refused a stale plan (exit 3)::" in stale.failed.output
    assert "stale plan" in stale.failed.output
    if not variant.pg:
        commit_step = stale.steps[-1]
        assert commit_step.name == "Commit the state" and not commit_step.skipped
        assert "The state did not change." in commit_step.output
    assert live_budget(sandbox.url, repo, SPRING, variant) != 70000  # nothing stale was applied

    # nightly drift: clean, then an out-of-band edit fails the job with exit 2
    assert_ok(github(repo, runs, 4, {}, variant).run(gha / "reconciler-drift.yml", "drift"))
    edit_out_of_band(sandbox.url, repo, SPRING, 1234, variant)
    job = github(repo, runs, 5, {}, variant).run(gha / "reconciler-drift.yml", "drift")
    assert job.code == 2, job.output
    assert "::error title=Drift found (exit 2)::" in job.output
    assert SPRING in job.summary
    assert (runs / "5" / "reconciler-drift" / "drift.md").is_file()  # uploaded although the job failed
    if variant.pg:  # the database's password is a secret like the others
        assert PG_PASSWORD not in job.output and quote(PG_PASSWORD, safe="") not in job.output


def gitlab(repo: Path, artifacts: Path, variant: Variant, **variables: str) -> GitLabRunner:
    base = {"RECONCILER_CMD": RECONCILER, "GIT_SYNC_CMD": "true", "GIT_PUSH_CMD": "true", **variant.secrets}
    return GitLabRunner(repo, artifacts, {**base, **variables})


def test_gitlab_jobs_plan_apply_refuse_stale_and_drift(sandbox: SandboxServer, tmp_path: Path, variant: Variant) -> None:
    repo = make_repo(tmp_path, sandbox.url, variant)
    store = tmp_path / "artifacts"
    fetch = "cp {store}/{mr}/reconciler-plan/reconciler-plan/plan.json reconciler-plan/plan.json"

    def plan(mr: int) -> JobResult:
        note = tmp_path / f"note-{mr}.md"
        job = gitlab(repo, store / str(mr), variant, COMMENT_CMD=f"cat > {note}", CI_COMMIT_SHORT_SHA=f"mr{mr}").run(
            variant.gitlab, "reconciler-plan"
        )
        assert_ok(job)
        assert note.read_text().startswith(f"### reconciler plan for mr{mr}")
        assert "**Summary:**" in note.read_text()
        assert (store / str(mr) / "reconciler-plan" / "reconciler-plan" / "plan.txt").read_text().startswith("Summary: ")
        return job

    def apply(mr: int) -> JobResult:
        return gitlab(repo, store / f"apply-{mr}", variant, PLAN_FETCH_CMD=fetch.format(store=store, mr=mr)).run(
            variant.gitlab, "reconciler-apply"
        )

    plan(1)
    assert_ok(apply(1))
    assert live_budget(sandbox.url, repo, WINTER, variant) == 50000
    if variant.pg:
        assert not (repo / ".reconciler").exists() and git(repo, "log", "-1", "--format=%s").strip() == "manifests"
    else:
        assert "reconciler: state after" in git(repo, "log", "-1", "--format=%s")

    original = (repo / "campaigns.yaml").read_text()
    commit_campaigns(repo, with_budget(original, "Winter Sale 2026", 65000), "MR 2")
    plan(2)
    commit_campaigns(repo, with_budget(original, "Spring Launch 2027", 75000), "MR 3")
    plan(3)
    commit_campaigns(repo, with_budget(original, "Winter Sale 2026", 65000), "main: MR 2 merged")
    assert_ok(apply(2))
    assert live_budget(sandbox.url, repo, WINTER, variant) == 65000
    stale = apply(3)
    assert stale.code == 3, stale.output
    assert "ERROR: reconciler refused a stale plan (exit 3)" in stale.output
    assert (
        store / "apply-3" / "reconciler-apply" / "reconciler-plan" / "apply-exit-code"
    ).read_text().strip() == "3"
    assert live_budget(sandbox.url, repo, SPRING, variant) != 75000

    assert_ok(gitlab(repo, store / "drift", variant).run(variant.gitlab, "reconciler-drift"))
    edit_out_of_band(sandbox.url, repo, WINTER, 4321, variant)
    drift = gitlab(repo, store / "drift2", variant).run(variant.gitlab, "reconciler-drift")
    assert drift.code == 2 and "ERROR: drift found (exit 2)" in drift.output
    assert WINTER in (store / "drift2" / "reconciler-drift" / "reconciler-drift" / "drift.md").read_text()
