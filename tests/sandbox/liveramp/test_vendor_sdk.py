"""LiveRamp's own client, ``liveramp-cleanroom-sdk`` (PyPI 1.0.0), driven against the sandbox with
``Config(base_url=...)``; its answers pass the OpenAPI hook like every other.

Aspects covered: client-credentials token (one fetch, reused for every call); org-level question
create/get/update; adding it to a clean room (the SDK sends ``questionID``); listing and reading
clean-room questions; dataset ownership (JSON body) + dataset assignment; question parameters;
a run that is refused (412) before READY; a run created and polled to COMPLETED, its listing
(the SDK asks ``limit=500``, clamped to the 100 maximum) and its result data.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from liveramp_cleanroom_sdk import Config, LiveRampCleanroomAPI, LiveRampCleanroomAPIError
from liveramp_cleanroom_sdk.config import (
    CreateQuestionConfig,
    DataSetTypeField,
    QueryDetail,
    QuestionDatasetAssignment,
    QuestionDatasetField,
    QuestionDataType,
    QuestionDetails,
    QuestionDimension,
    QuestionMeasure,
    QuestionParameter,
    QuestionRunConfig,
    UpdateQuestionConfig,
)

from reconciler.sandbox.base import SandboxServer
from tests.sandbox.liveramp.fixtures import DEMO, Api
from tests.sandbox.liveramp.openapi_check import OpenAPIChecker

pytestmark = pytest.mark.vendor_sdk


def _details(description: str) -> QuestionDetails:
    return QuestionDetails(
        title="SDK reach",
        description=description,
        category="Reach",
        tags=["sdk"],
        query_details=[QueryDetail(query="SELECT @crm.region, COUNT(*) users FROM @crm WHERE age > @min_age GROUP BY 1", clean_room_type="Hybrid")],
        data_types=[QuestionDataType(import_data_type="CRM", macro="crm", data_set_type_fields=[DataSetTypeField("user_id", "STRING")])],
        dimensions=[QuestionDimension("region", "STRING", display_name="Region", filterable=True)],
        measures=[QuestionMeasure("users", "LONG", is_identity=False, noise=2)],
        parameters=[QuestionParameter("min_age", type="INTEGER", default_value="18", display_name="Minimum age")],
    )


def test_sdk_question_workflow_against_the_sandbox(lr_server: SandboxServer, tmp_path: Path, openapi_hook: OpenAPIChecker) -> None:
    api = Api(lr_server)
    api.control("POST", "runs", json={"duration_seconds": 0})
    dc = api.connection()
    room = api.cleanroom()
    ds = api.ok("POST", f"/cleanrooms/{room['id']}/datasets/configure", params={"dataConnectionId": dc["id"]})
    org = api.org_id(room["id"])

    config = Config(
        client_id=DEMO[0],
        client_secret=DEMO[1],
        cleanroom_id=room["id"],
        base_url=f"{lr_server.url}/liveramp",
        poll_interval=1,
        max_polls=5,
        output_location=str(tmp_path),
        log_level="WARNING",
        request_timeout=10,
    )
    client = LiveRampCleanroomAPI(config)
    token = client.get_access_token()
    assert token["access_token"] and token["tokenType"] == "Bearer"

    created = client.questions.create_question(CreateQuestionConfig(question_details=_details("first")))
    assert created["success"] is True
    qid = created["questionID"]
    fetched = client.questions.get_question(qid)
    assert fetched["questionDetails"]["title"] == "SDK reach" and fetched["questionDetails"]["version"] == 1
    updated = client.questions.update_question(qid, UpdateQuestionConfig(question_details=_details("second")))
    assert updated["question"]["version"] == 2 and updated["question"]["description"] == "second"

    crq = client.cr_questions.add_question_to_cleanroom(qid)
    assert crq["questionId"] == qid and crq["status"] != "READY"
    with pytest.raises(LiveRampCleanroomAPIError) as refused:
        client.cr_question_runs.create_cr_question_run(crq["id"], QuestionRunConfig(name="too early"))
    assert refused.value.status_code == 412

    listed = client.cr_questions.get_cleanroom_questions()
    assert [c["id"] for c in listed] == [crq["id"]]
    assert client.cr_questions.get_cleanroom_question_by_id(crq["id"])["name"] == "SDK reach"

    assignment = QuestionDatasetAssignment(
        dataset_id=ds["id"], macro="crm", fields=[QuestionDatasetField("user_id", "email_sha256")], data_connection_id=dc["id"]
    )
    assigned = client.cr_questions.assign_cleanroom_question_datasets_with_ownership(crq["id"], org, "crm", [assignment])
    assert assigned[0]["status"] == "ASSIGNED" and assigned[0]["datasetId"] == ds["id"]
    assert client.cr_questions.get_cleanroom_question_datasets(crq["id"])[0]["fields"][0]["value"] == "email_sha256"
    params = client.cr_questions.get_cleanroom_question_parameters(crq["id"])
    assert [p["Name"] for p in params["parameters"]] == ["min_age"]
    assert client.cr_questions.get_cleanroom_question_by_id(crq["id"])["status"] == "READY"

    final = client.cr_question_runs.create_and_poll_cr_question_run(crq["id"], QuestionRunConfig(name="sdk run", parameters={"min_age": "21"}))
    assert final["status"] == "COMPLETED" and final["parameters"] == {"min_age": "21"}
    runs = client.cr_question_runs.get_cr_question_runs(crq["id"])
    assert [r["id"] for r in runs] == [final["id"]]
    assert client.cr_question_runs.get_cr_question_runs(crq["id"], status="COMPLETED")[0]["id"] == final["id"]
    data = client.cr_question_runs.get_cr_question_run_data(final["id"])
    assert data["count"] == 5 and len(data["stats"]) == 5

    # one token for the raw arranging calls and one for the SDK: reused, never re-fetched
    assert api.control("GET", "counters")["tokens_issued"] == {"demo-client": 2}
    checked = {key.split(" ", 1)[1] for key in openapi_hook.checked}
    assert "/cleanroom-questions/{cleanroomQuestionId}/datasets-ownership 200" in checked
    assert "/cleanroom-question-runs/{cleanroomQuestionRunId} 200" in checked
