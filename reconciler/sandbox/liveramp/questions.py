"""Org-level questions, clean-room questions (CRQs), run schedules and question runs
(reference §1.7-§1.9, §1.11).

- ``POST /question`` answers ``{success, message, questionID}``; every data type must carry
  ``dataSetTypeFields`` (the real server answers 500 on a NullPointerException otherwise) and
  ``PUT`` needs ``cleanRoomID`` present for the same reason. Each update bumps ``version``.
- A CRQ snapshots the question when added (``questionId`` or ``questionID``). Its status is
  ``READY`` once every data-type macro has a dataset assigned; dataset ownership must be set
  (JSON body, not the query parameter the spec shows) before a dataset is assigned.
- Schedules take ``parameters`` as a list and answer them as a map keyed by name.
- ``create-run`` answers 412 unless the CRQ is READY and 429 (no ``Retry-After``) past
  ``run_limit`` runs per ``run_window_seconds`` per API client; runs move QUEUED -> RUNNING ->
  COMPLETED over ``run_duration_seconds`` (or a control call completes/fails them).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from reconciler.sandbox.liveramp import reference as ref
from reconciler.sandbox.liveramp.common import (
    LiveRampError,
    as_bool,
    as_string,
    bad_request,
    iso,
    not_found,
    page,
    parse_date,
    parse_datetime,
    public,
    require_list,
    require_object,
)
from reconciler.sandbox.liveramp.data import DataMixin

IMPORT_DATA_TYPES = frozenset(
    ["CodeContainer", "Transaction", "Metadata", "PageData", "AdExposure", "ServiceContainer", "DatabricksNotebook", "TTDREDSFeed", "UserData", "MLModel", "ConversionEvents", "TrainModel", "AdLogs", "MemberProfile", "AADataFeed", "TTDREDSMetadata", "Conversion", "BinaryData", "SparkCodeContainer", "DatabricksContainer", "AdEngagement", "OfflineConversions", "UserSegmentMap", "LinkedInMarketingSolutionsConfigData", "GoogleCloudBigQuery", "IDENTITY_GRAPH", "AdsDataFeed", "CRM", "Generic", "AMCAdsDataFeed", "Campaign", "CampaignMapping", "WHEEL"]
)
PERMISSIONS = ("VIEW_CODE", "EDIT", "CLONE", "RUN", "VIEW_RESULTS", "DELETE")
ALL_PERMISSIONS = frozenset(PERMISSIONS) | {"UNKNOWN_PERMISSION", "IN_PROGRESS"}
ACCESS = frozenset({"UNKNOWN_ACCESS", "QUESTION_OWNER_ONLY", "ALL_CLEAN_ROOM_PARTNERS"})
DEFAULT_ACCESS = "QUESTION_OWNER_ONLY"
COMPUTE_CAPACITY = frozenset({"DEFAULT", "MEDIUM", "LARGE", "XLARGE"})
FREQUENCIES = frozenset({"FREQUENCY_UNKNOWN", "DAILY", "WEEKLY", "MONTHLY"})
DAYS = frozenset({"DAY_OF_WEEK_UNKNOWN", "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"})
PARAMETER_TYPES = frozenset({"PARTITION_PARAMETER", "RUN_PARAMETER"})
QUALIFIERS = frozenset({"DAYS", "MONTHS"})
DATE_TYPES = frozenset({"RELATIVE", "ABSOLUTE"})
RUN_STATUSES = frozenset(
    {"QUEUED", "RUNNING", "COMPLETED", "FAILED", "PARTNER_QUEUED", "PARTNER_RUNNING", "PARTNER_COMPLETED",
     "PARTNER_FAILED", "ERROR", "PENDING_RETRY"}
)
READY = "READY"
PENDING = "DATASET_ASSIGNMENT_PENDING"


def _npe(what: str) -> LiveRampError:
    return LiveRampError(500, f"Cannot invoke \"{what}\" because the value is null (java.lang.NullPointerException)")


class QuestionsMixin(DataMixin):
    # -- org-level questions ---------------------------------------------------------------------
    def _details(self, raw: Any, version: int, display_id: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise bad_request("questionDetails is required")
        title = raw.get("title")
        if not isinstance(title, str) or not title.strip():
            raise bad_request("questionDetails.title is required")
        queries = raw.get("queryDetails")
        if not isinstance(queries, list) or not queries:
            raise bad_request("questionDetails.queryDetails must hold at least one query")
        type_names = {t["name"] for t in self.cleanroom_types()}
        query_details = []
        for i, q in enumerate(queries):
            if not isinstance(q, dict) or not isinstance(q.get("query"), str) or not q["query"].strip():
                raise bad_request(f"questionDetails.queryDetails[{i}].query is required")
            if q.get("cleanRoomType") not in type_names:
                raise bad_request(f"questionDetails.queryDetails[{i}].cleanRoomType '{q.get('cleanRoomType')}' is not one of {sorted(type_names)}")
            query_details.append({**q, "queryLanguage": q.get("queryLanguage") or "SQL"})
        data_types = []
        macros: set[str] = set()
        for i, dt in enumerate(raw.get("dataTypes") or []):
            if not isinstance(dt, dict):
                raise bad_request(f"questionDetails.dataTypes[{i}] must be an object")
            if dt.get("importDataType") not in IMPORT_DATA_TYPES:
                raise bad_request(f"questionDetails.dataTypes[{i}].importDataType '{dt.get('importDataType')}' is not a known import data type")
            if dt.get("dataSetTypeFields") is None:
                raise _npe("java.util.List.iterator()")
            macro = dt.get("macro") or dt["importDataType"]
            if macro in macros:
                raise bad_request(f"questionDetails.dataTypes[{i}]: duplicate macro '{macro}'")
            macros.add(macro)
            data_types.append(
                {
                    **{k: v for k, v in dt.items() if v is not None},
                    "id": dt.get("id") or ref.stable_id("question-data-type", f"{display_id}/{macro}"),
                    "macro": macro,
                    "datasetID": dt.get("datasetID") or "",
                }
            )
        for key in ("parameters", "measures", "dimensions"):
            for i, item in enumerate(raw.get(key) or []):
                if not isinstance(item, dict) or not item.get("name"):
                    raise bad_request(f"questionDetails.{key}[{i}].name is required")
        details = {k: v for k, v in raw.items() if v is not None}
        details.update(
            {
                "title": title,
                "displayId": display_id,
                "version": version,
                "queryDetails": query_details,
                "dataTypes": data_types,
                "tags": [str(t) for t in raw.get("tags") or []],
            }
        )
        for key in ("parameters", "measures", "dimensions", "userListOutputs"):
            details[key] = list(raw.get(key) or [])
        return details

    def _validate_query_macros(self, details: dict[str, Any], settings: Any) -> None:
        if not (isinstance(settings, dict) and settings.get("queryValidation")):
            return
        text = " ".join(q["query"] for q in details["queryDetails"])
        for dt in details["dataTypes"]:
            if f"@{dt['macro']}" not in text:
                raise bad_request(f"Query validation failed: data type macro @{dt['macro']} is not used by any query")

    def render_question(self, doc: dict[str, Any], version: int | None = None) -> dict[str, Any]:
        details = doc["questionDetails"]
        if version is not None and version != details["version"]:
            older = [d for d in doc.get("_history", []) if d["version"] == version]
            if not older:
                raise not_found("Question version", f"{doc['id']}?version={version}")
            details = older[0]
        out = {"questionDetails": details, "id": doc["id"], "organizationID": doc["organizationID"], "settings": doc["settings"]}
        if doc.get("cleanRoomID"):
            out["cleanRoomID"] = doc["cleanRoomID"]
        return out

    def assets(self, room_id: str) -> dict[str, Any]:
        """``GET /cleanrooms/{id}/assets``: the questions available in the room (created in it with
        ``?cleanRoomID=`` or added to it as a clean-room question), its datasets and stakeholders."""
        self.must("cleanrooms", room_id, "Cleanroom")
        attached = {c["questionId"] for c in self.all("crqs") if c["cleanroomId"] == room_id}
        questions = [q for q in self.all("questions") if q.get("cleanRoomID") == room_id or q["id"] in attached]
        return {
            "questions": [self._question_metadata(q) for q in sorted(questions, key=lambda q: q["id"])],
            "datasets": [
                {
                    "ID": d["id"], "name": d["name"], "macro": d["name"], "dataImportType": d["dataConnectionType"],
                    "organizationID": d["_org"], "organizationName": d["organizationName"],
                    "fields": [
                        {"ID": f["id"], "fieldName": f["fieldName"], "fieldLabel": f["fieldLabel"], "dataType": f["dataType"],
                         "isPii": f["isPii"], "isExcluded": bool(f.get("isExcluded", False)),
                         "isFilterable": bool(f.get("isFilterable", False)), "isUserIDField": bool(f.get("isUserIDField", False))}
                        for f in d["datasetFieldMappings"]
                    ],
                }
                for d in self.all("datasets") if d["cleanRoomId"] == room_id
            ],
            "computeCapacityOptions": [{"name": c, "description": f"{c.title()} compute capacity"} for c in sorted(COMPUTE_CAPACITY)],
            "fieldTypes": [{"name": t, "description": t.title()} for t in ("STRING", "INTEGER", "DECIMAL", "BOOLEAN", "DATE", "TIMESTAMP")],
            "stakeholders": self.stakeholders(room_id),
        }

    @staticmethod
    def _question_metadata(doc: dict[str, Any]) -> dict[str, Any]:
        d = doc["questionDetails"]
        return {
            "ID": doc["id"], "displayID": d["displayId"], "title": d["title"], "category": d.get("category", ""),
            "description": d.get("description", ""), "status": "ACTIVE",
            "isAggregate": not d.get("isUserListQuestion", False),
            "isUserListQuestion": bool(d.get("isUserListQuestion", False)),
            "hasDateFilter": bool(d.get("hasDateFilter", False)),
            "hasDateParameters": bool(d.get("hasDateParameters", False)),
            "hasMultipleOutputs": bool(d.get("hasMultipleOutputs", False)),
            "defaultComputeCapacity": "DEFAULT",
            "dataTypes": [
                {"ID": dt.get("id", ""), "macro": dt["macro"], "importDataType": dt["importDataType"], "optional": False,
                 "description": "", "fields": [{"ID": "", "name": f.get("name", ""), "type": f.get("type", ""),
                                                "description": "", "format": ""} for f in dt.get("dataSetTypeFields") or []]}
                for dt in d.get("dataTypes") or []
            ],
            "parameters": [{"ID": "", "name": p.get("name", ""), "displayName": p.get("displayName", ""), "type": p.get("type", ""),
                            "parameterType": "RUN_PARAMETER", "index": i} for i, p in enumerate(d.get("parameters") or [])],
            "dimensions": [{"ID": "", "name": x.get("name", ""), "displayName": x.get("displayName", ""), "type": x.get("type", ""),
                            "filterable": bool(x.get("filterable", False)), "plottable": bool(x.get("plottable", False))}
                           for x in d.get("dimensions") or []],
            "metrics": [{"ID": "", "name": m.get("name", ""), "displayName": m.get("name", ""), "type": m.get("type", ""),
                         "computed": False} for m in d.get("measures") or []],
            "userListOutputs": [{"ID": "", "name": u.get("name", ""), "type": u.get("type", ""), "isEncrypt": False}
                                for u in d.get("userListOutputs") or []],
        }

    def get_question(self, question_id: str) -> dict[str, Any]:
        return self.must("questions", question_id, "Question")

    def create_question(self, client: dict[str, Any], body: Any, room_id: str | None) -> dict[str, Any]:
        body = require_object(body, "create question")
        room_id = room_id or body.get("cleanRoomID") or None
        if room_id:
            self.must("cleanrooms", room_id, "Cleanroom")
        details = self._details(body.get("questionDetails"), 1, self.display_id("questions", "Q"))
        settings = body.get("settings") if isinstance(body.get("settings"), dict) else {}
        self._validate_query_macros(details, settings)
        doc = {
            "id": self.new_id(),
            "cleanRoomID": room_id or "",
            "organizationID": client["_org"],
            "settings": settings,
            "questionDetails": details,
            "_history": [],
        }
        self.put("questions", doc)
        return {"success": True, "message": "Question created successfully", "questionID": doc["id"]}

    def update_question(self, question_id: str, body: Any) -> dict[str, Any]:
        doc = self.get_question(question_id)
        body = require_object(body, "update question")
        if "cleanRoomID" not in body:
            raise _npe("Question.getCleanRoomID()")
        current = doc["questionDetails"]
        details = self._details(body.get("questionDetails"), int(current["version"]) + 1, current["displayId"])
        settings = body.get("settings") if isinstance(body.get("settings"), dict) else doc["settings"]
        self._validate_query_macros(details, settings)
        doc["_history"] = [*doc.get("_history", []), current]
        doc["questionDetails"] = details
        doc["settings"] = settings
        self.put("questions", doc)
        return {"success": True, "message": "Question updated successfully", "question": details}

    def delete_question(self, question_id: str) -> dict[str, Any]:
        self.get_question(question_id)
        self.delete("questions", question_id)
        return {"success": True}

    # -- clean-room questions --------------------------------------------------------------------
    def _crq_status(self, crq: dict[str, Any]) -> str:
        macros = [dt["macro"] for dt in crq["_details"]["dataTypes"]]
        assigned = crq.get("_assignments", {})
        return READY if all(assigned.get(m, {}).get("datasetId") for m in macros) else PENDING

    def _runs_of(self, crq_id: str) -> list[dict[str, Any]]:
        return sorted((r for r in self.all("runs") if r["_crqId"] == crq_id), key=lambda r: r["_submitted"])

    def render_crq(self, crq: dict[str, Any]) -> dict[str, Any]:
        details = crq["_details"]
        return {
            "id": crq["id"],
            "name": details["title"],
            "displayId": crq["displayId"],
            "questionType": "List" if details.get("isUserListQuestion") else "Analytical",
            "category": details.get("category", ""),
            "createdOn": crq["createdOn"],
            "status": self._crq_status(crq),
            "dataTypes": {dt["macro"]: dt["importDataType"] for dt in details["dataTypes"]},
            "parameters": {p["name"]: str(p.get("displayName") or p["name"]) for p in details.get("parameters", [])},
            "dimension": {d["name"]: str(d.get("type") or "") for d in details.get("dimensions", [])},
            "metrics": {m["name"]: str(m.get("type") or "") for m in details.get("measures", [])},
            "cleanroomId": crq["cleanroomId"],
            "ownerOrganizationId": crq["ownerOrganizationId"],
            "customerQueryTemplate": details["queryDetails"][0]["query"],
            "questionId": crq["questionId"],
        }

    def render_crq_response(self, crq: dict[str, Any]) -> dict[str, Any]:
        details = crq["_details"]
        runs = self._runs_of(crq["id"])
        out: dict[str, Any] = {
            "id": crq["id"],
            "cleanRoomId": crq["cleanroomId"],
            "ownerOrganizationId": crq["ownerOrganizationId"],
            "questionId": crq["questionId"],
            "title": details["title"],
            "category": details.get("category", ""),
            "stage": "ACTIVE",
            "status": self._crq_status(crq),
            "datasetCount": len(details["dataTypes"]),
            "runCount": len(runs),
            "isEditable": crq["isEditable"],
            "questionStatus": "ACTIVE",
            "questionVersion": crq["questionVersion"],
            "displayId": crq["displayId"],
            "description": details.get("description", ""),
        }
        if runs:
            last = self.advance_run(runs[-1])
            latest = {"runId": last["id"], "status": last["status"], "startTimestamp": last["submittedAt"]}
            if last.get("completedAt"):
                latest["endTimestamp"] = last["completedAt"]
            out["latestRun"] = latest
        return out

    def get_crq(self, crq_id: str) -> dict[str, Any]:
        return self.must("crqs", crq_id, "Cleanroom question")

    def add_crq(self, client: dict[str, Any], room_id: str, question_id: str | None, editable: Any) -> dict[str, Any]:
        room = self.must("cleanrooms", room_id, "Cleanroom")
        if not question_id:
            raise bad_request("Required request parameter 'questionId' is not present")
        question = self.get_question(question_id)
        details = question["questionDetails"]
        room_type = next(t["name"] for t in self.cleanroom_types() if t["id"] == room["cleanRoomTypeId"])
        if not any(q["cleanRoomType"] == room_type for q in details["queryDetails"]):
            raise bad_request(f"Question {question_id} has no query for clean room type {room_type}")
        if any(c["cleanroomId"] == room_id and c["questionId"] == question_id for c in self.all("crqs")):
            raise bad_request(f"Question {question_id} is already in clean room {room_id}")
        crq = {
            "id": self.new_id(),
            "cleanroomId": room_id,
            "questionId": question_id,
            "ownerOrganizationId": client["_org"],
            "displayId": self.display_id("crqs", "CRQ"),
            "createdOn": self.stamp(),
            "isEditable": as_bool(editable, "isEditable", default=True),
            "questionVersion": details["version"],
            "computeCapacity": "DEFAULT",
            "_details": details,
            "_assignments": {},
            "_permissions": {p: DEFAULT_ACCESS for p in PERMISSIONS},
            "_resultShares": [],
        }
        self.put("crqs", crq)
        return self.render_crq_response(crq)

    def crq_for_question(self, room_id: str, question_id: str) -> dict[str, Any]:
        self.must("cleanrooms", room_id, "Cleanroom")
        for crq in self.all("crqs"):
            if crq["cleanroomId"] == room_id and crq["questionId"] == question_id:
                return {"id": crq["id"]}
        raise not_found("Cleanroom question for question", question_id)

    def list_crqs(self, room_id: str, args: Any) -> list[dict[str, Any]]:
        self.must("cleanrooms", room_id, "Cleanroom")
        crqs = [self.render_crq(c) for c in self.all("crqs") if c["cleanroomId"] == room_id]
        start = parse_date(args["startDate"], "startDate") if args.get("startDate") else None
        end = parse_date(args["endDate"], "endDate") if args.get("endDate") else None
        if start:
            crqs = [c for c in crqs if c["createdOn"][:10] >= start]
        if end:
            crqs = [c for c in crqs if c["createdOn"][:10] <= end]
        if args.get("questionType"):
            crqs = [c for c in crqs if c["questionType"].lower() == args["questionType"].lower()]
        return page(crqs, args, 500)

    def delete_crq(self, crq_id: str) -> dict[str, Any]:
        self.get_crq(crq_id)
        for coll in ("schedules", "runs"):
            for doc in self.all(coll):
                if doc["_crqId"] == crq_id:
                    self.delete(coll, doc["id"])
        self.delete("crqs", crq_id)
        return {"success": True}

    def set_compute_capacity(self, crq_id: str, body: Any) -> dict[str, Any]:
        crq = self.get_crq(crq_id)
        value = require_object(body, "compute capacity").get("computeCapacity")
        if value not in COMPUTE_CAPACITY:
            raise bad_request(f"computeCapacity '{value}' is not one of {sorted(COMPUTE_CAPACITY)}")
        room = self.must("cleanrooms", crq["cleanroomId"], "Cleanroom")
        snowflake = next(t["id"] for t in self.cleanroom_types() if t["name"] == "Snowflake")
        if room["cleanRoomTypeId"] == snowflake and value not in ("DEFAULT", "LARGE"):
            raise bad_request("Snowflake clean rooms support only DEFAULT and LARGE compute capacity")
        crq["computeCapacity"] = value
        self.put("crqs", crq)
        return {"success": True}

    def crq_parameters(self, crq_id: str) -> dict[str, Any]:
        crq = self.get_crq(crq_id)
        params = []
        for index, p in enumerate(crq["_details"].get("parameters", [])):
            item: dict[str, Any] = {
                "Name": p["name"],
                "Index": index,
                "DataType": str(p.get("type") or "STRING"),
                "ParameterType": "RUNTIME_PARAMETER",
                "DisplayName": str(p.get("displayName") or p["name"]),
                "Description": str(p.get("description") or ""),
                "ExampleValue": str(p.get("exampleValue") or ""),
                "Format": str(p.get("format") or ""),
                "IsSynced": bool(p.get("isSynced", False)),
                "HasConstraint": p.get("defaultValue") is not None,
            }
            if p.get("defaultValue") is not None:
                item["ConstraintType"] = "DEFAULT_VALUE"
                item["DefaultValue"] = str(p["defaultValue"])
            params.append(item)
        return {"name": crq["_details"]["title"], "displayId": crq["displayId"], "parameters": params}

    def crq_tags(self, crq_id: str) -> list[str]:
        return list(self.get_crq(crq_id)["_details"].get("tags", []))

    # -- permissions and result shares -----------------------------------------------------------
    def permissions(self, crq_id: str) -> list[dict[str, Any]]:
        crq = self.get_crq(crq_id)
        return [
            {"id": ref.stable_id("permission", f"{crq_id}/{perm}"), "permission": perm, "access": access}
            for perm, access in sorted(crq["_permissions"].items())
        ]

    def set_permissions(self, crq_id: str, body: Any) -> list[dict[str, Any]]:
        crq = self.get_crq(crq_id)
        items = require_list(body, "cleanroom question permissions")
        updates = {}
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise bad_request(f"[{i}] must be an object")
            perm, access = item.get("permission"), item.get("access")
            if perm not in ALL_PERMISSIONS:
                raise bad_request(f"[{i}].permission '{perm}' is not one of {sorted(ALL_PERMISSIONS)}")
            if access not in ACCESS:
                raise bad_request(f"[{i}].access '{access}' is not one of {sorted(ACCESS)}")
            updates[perm] = access
        crq["_permissions"] = {**crq["_permissions"], **updates}
        self.put("crqs", crq)
        return self.permissions(crq_id)

    def result_shares(self, crq_id: str) -> list[dict[str, Any]]:
        return list(self.get_crq(crq_id)["_resultShares"])

    def set_result_shares(self, crq_id: str, body: Any) -> dict[str, Any]:
        crq = self.get_crq(crq_id)
        items = require_list(body, "result shares")
        partners = {p["id"] for p in self.all("partners") if p["_cleanRoomId"] == crq["cleanroomId"]}
        shares = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or item.get("PartnerID") not in partners:
                raise bad_request(f"[{i}].PartnerID must be a partner of the clean room")
            shares.append(
                {
                    "id": ref.stable_id("result-share", f"{crq_id}/{item['PartnerID']}"),
                    "PartnerID": item["PartnerID"],
                    "PostRunQueryID": str(item.get("PostRunQueryID") or ""),
                }
            )
        crq["_resultShares"] = shares
        self.put("crqs", crq)
        return {"success": True}

    # -- dataset ownership and assignment --------------------------------------------------------
    def render_crq_datasets(self, crq: dict[str, Any]) -> list[dict[str, Any]]:
        display = {t["name"]: t["displayName"] for t in ref.data_types()}
        stakeholders = {s["organizationId"]: s for s in self.stakeholders(crq["cleanroomId"])}
        out = []
        for dt in crq["_details"]["dataTypes"]:
            macro = dt["macro"]
            assignment = crq["_assignments"].get(macro, {})
            item: dict[str, Any] = {
                "id": ref.stable_id("crq-dataset", f"{crq['id']}/{macro}"),
                "dataTypeDisplayName": display.get(dt["importDataType"], dt["importDataType"]),
                "status": "ASSIGNED" if assignment.get("datasetId") else ("OWNERSHIP_ASSIGNED" if assignment else "NOT_ASSIGNED"),
                "dataTypeName": dt["importDataType"],
                "questionDataTypeId": dt["id"],
                "parameters": [],
                "macro": macro,
                "fields": [],
            }
            org_id = assignment.get("organizationId")
            if org_id:
                holder = stakeholders.get(org_id, {"organizationName": "", "ownership": "PARTNER"})
                item.update(
                    {"organizationId": org_id, "organizationName": holder["organizationName"], "ownership": holder["ownership"]}
                )
            if assignment.get("datasetId"):
                item.update(
                    {
                        "datasetId": assignment["datasetId"],
                        "datasetName": assignment["datasetName"],
                        "dataConnectionId": assignment["dataConnectionId"],
                        "dataSourceId": assignment["dataSourceId"],
                        "assignedAt": assignment["assignedAt"],
                        "fields": [
                            {
                                "datasetId": assignment["datasetId"],
                                "id": ref.stable_id("crq-dataset-field", f"{crq['id']}/{macro}/{f['name']}"),
                                "name": f["name"],
                                "value": f["value"],
                                "type": f["type"],
                            }
                            for f in assignment["fields"]
                        ],
                    }
                )
            out.append(item)
        return out

    def crq_datasets(self, crq_id: str) -> list[dict[str, Any]]:
        return self.render_crq_datasets(self.get_crq(crq_id))

    def assign_ownership(self, crq_id: str, body: Any) -> list[dict[str, Any]]:
        crq = self.get_crq(crq_id)
        items = require_list(body, "datasets ownership")
        macros = {dt["macro"] for dt in crq["_details"]["dataTypes"]}
        holders = {s["organizationId"] for s in self.stakeholders(crq["cleanroomId"])}
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise bad_request(f"[{i}] must be an object with organizationId and macro")
            macro, org_id = item.get("macro"), item.get("organizationId")
            if macro not in macros:
                raise bad_request(f"[{i}].macro '{macro}' is not a data type of this question; known: {sorted(macros)}")
            if org_id not in holders:
                raise bad_request(f"[{i}].organizationId '{org_id}' is not a stakeholder of the clean room")
            current = crq["_assignments"].get(macro, {})
            crq["_assignments"][macro] = current if current.get("organizationId") == org_id else {"organizationId": org_id}
        self.put("crqs", crq)
        return self.render_crq_datasets(crq)

    def assign_datasets(self, crq_id: str, body: Any) -> list[dict[str, Any]]:
        crq = self.get_crq(crq_id)
        items = require_list(body, "cleanroom question datasets")
        data_types = {dt["macro"]: dt for dt in crq["_details"]["dataTypes"]}
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise bad_request(f"[{i}] must be an object")
            macro = item.get("macro")
            if macro not in data_types:
                raise bad_request(f"[{i}].macro '{macro}' is not a data type of this question; known: {sorted(data_types)}")
            owner = crq["_assignments"].get(macro, {}).get("organizationId")
            if not owner:
                raise bad_request(f"[{i}]: assign the ownership of macro '{macro}' (datasets-ownership) before its dataset")
            dataset_id = str(item.get("datasetId") or "")
            dataset = self.get("datasets", dataset_id)
            if dataset is None or dataset["cleanRoomId"] != crq["cleanroomId"]:
                raise bad_request(f"[{i}].datasetId '{dataset_id}' is not a dataset of clean room {crq['cleanroomId']}")
            if dataset["_org"] != owner and not dataset.get("partnerCanAssign"):
                raise bad_request(f"[{i}]: dataset {dataset_id} does not belong to the organization owning macro '{macro}'")
            columns = {f["name"]: f for f in dataset["datasetFields"]}
            wanted = {f["name"] for f in data_types[macro].get("dataSetTypeFields") or []}
            fields = []
            for j, f in enumerate(item.get("fields") or []):
                if not isinstance(f, dict) or f.get("name") not in wanted:
                    raise bad_request(f"[{i}].fields[{j}].name must be one of the question fields {sorted(wanted)}")
                if f.get("value") not in columns:
                    raise bad_request(f"[{i}].fields[{j}].value '{f.get('value')}' is not a column of dataset {dataset_id}")
                fields.append({"name": f["name"], "value": f["value"], "type": columns[f["value"]]["type"]})
            connection = self.get("connections", dataset["dataConnectionId"]) or {}
            crq["_assignments"][macro] = {
                "organizationId": owner,
                "datasetId": dataset_id,
                "datasetName": dataset["name"],
                "dataConnectionId": dataset["dataConnectionId"],
                "dataSourceId": connection.get("dataSource", {}).get("id", ""),
                "assignedAt": self.stamp(),
                "fields": sorted(fields, key=lambda f: f["name"]),
            }
        self.put("crqs", crq)
        return self.render_crq_datasets(crq)

    def data_type_options(self, crq_id: str, data_type: str | None) -> list[dict[str, Any]]:
        crq = self.get_crq(crq_id)
        datasets = [d for d in self.all("datasets") if d["cleanRoomId"] == crq["cleanroomId"]]
        out = []
        for dt in crq["_details"]["dataTypes"]:
            if data_type and data_type not in (dt["macro"], dt["importDataType"]):
                continue
            out.append({"dataTypeName": dt["macro"], "datasetOptions": [{"id": d["id"], "name": d["name"]} for d in datasets]})
        return out

    # -- run schedules ---------------------------------------------------------------------------
    def _schedule_fields(self, body: dict[str, Any], partial: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "name" in body or not partial:
            if not isinstance(body.get("name"), str) or not body["name"].strip():
                raise bad_request("name is required")
            out["name"] = body["name"]
        if "repeatFrequency" in body or not partial:
            if body.get("repeatFrequency") not in FREQUENCIES:
                raise bad_request(f"repeatFrequency '{body.get('repeatFrequency')}' is not one of {sorted(FREQUENCIES)}")
            out["repeatFrequency"] = body["repeatFrequency"]
        if "startSchedule" in body or not partial:
            out["startDateTime"] = iso(parse_datetime(body.get("startSchedule"), "startSchedule"))
        if body.get("endSchedule"):
            out["endDateTime"] = iso(parse_datetime(body["endSchedule"], "endSchedule"))
        if "daysOfWeek" in body:
            days = body["daysOfWeek"] or []
            if not isinstance(days, list) or any(d not in DAYS for d in days):
                raise bad_request(f"daysOfWeek must be a list of {sorted(DAYS)}")
            out["daysOfWeek"] = list(days)
        if "repeatDayofMonth" in body:
            days = body["repeatDayofMonth"] or []
            if not isinstance(days, list) or any(not isinstance(d, int) or isinstance(d, bool) or not 1 <= d <= 31 for d in days):
                raise bad_request("repeatDayofMonth must be a list of integers between 1 and 31")
            out["repeatDayofMonth"] = list(days)
        if "parameters" in body:
            out["parameters"] = self._schedule_parameters(body["parameters"])
        return out

    def _schedule_parameters(self, raw: Any) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, list):
            raise bad_request("parameters must be an array of {name, value, dataType, parameterType, dateQualifier, dateType}")
        out: dict[str, Any] = {}
        for i, p in enumerate(raw):
            if not isinstance(p, dict) or not p.get("name"):
                raise bad_request(f"parameters[{i}].name is required")
            ptype = p.get("parameterType") or "RUN_PARAMETER"
            if ptype not in PARAMETER_TYPES:
                raise bad_request(f"parameters[{i}].parameterType '{ptype}' is not one of {sorted(PARAMETER_TYPES)}")
            qualifier = p.get("dateQualifier")
            if qualifier is not None and qualifier not in QUALIFIERS:
                raise bad_request(f"parameters[{i}].dateQualifier '{qualifier}' is not one of {sorted(QUALIFIERS)}")
            date_type = p.get("dateType")
            if date_type is not None and date_type not in DATE_TYPES:
                raise bad_request(f"parameters[{i}].dateType '{date_type}' is not one of {sorted(DATE_TYPES)}")
            item: dict[str, Any] = {
                "name": p["name"],
                "value": as_string(p.get("value")),
                "type": str(p.get("dataType") or "STRING"),
                "isStatic": date_type != "RELATIVE",
                "parameterType": ptype,
            }
            if qualifier:
                item["qualifier"] = qualifier
            out[p["name"]] = item
        return dict(sorted(out.items()))

    def _check_schedule(self, doc: dict[str, Any]) -> None:
        if doc["repeatFrequency"] == "WEEKLY" and not doc.get("daysOfWeek"):
            raise bad_request("A WEEKLY schedule needs daysOfWeek")
        if doc["repeatFrequency"] == "MONTHLY" and not doc.get("repeatDayofMonth"):
            raise bad_request("A MONTHLY schedule needs repeatDayofMonth")
        if doc.get("endDateTime") and doc["endDateTime"] < doc["startDateTime"]:
            raise bad_request("endSchedule must not be before startSchedule")
        for other in self.all("schedules"):
            if other["_crqId"] == doc["_crqId"] and other["name"] == doc["name"] and other["id"] != doc["id"]:
                raise bad_request(f"A run schedule named '{doc['name']}' already exists for this cleanroom question")

    def list_schedules(self, crq_id: str) -> list[dict[str, Any]]:
        self.get_crq(crq_id)
        return [public(s) for s in self.all("schedules") if s["_crqId"] == crq_id]

    def get_schedule(self, crq_id: str, schedule_id: str) -> dict[str, Any]:
        doc = self.must("schedules", schedule_id, "Cleanroom question run schedule")
        if doc["_crqId"] != crq_id:
            raise not_found("Cleanroom question run schedule", schedule_id)
        return doc

    def create_schedule(self, client: dict[str, Any], crq_id: str, body: Any) -> dict[str, Any]:
        crq = self.get_crq(crq_id)
        fields = self._schedule_fields(require_object(body, "create run schedule"), partial=False)
        now = self.stamp()
        doc = {
            "id": self.new_id(),
            "description": "",
            "ownerId": crq["ownerOrganizationId"],
            "parameters": {},
            "active": True,
            "daysOfWeek": [],
            "repeatDayofMonth": [],
            **fields,
            "createdBy": client["_user"],
            "modifiedBy": client["_user"],
            "createdDate": now,
            "modifiedDate": now,
            "displayId": self.display_id("schedules", "SCH"),
            "_crqId": crq_id,
        }
        self._check_schedule(doc)
        self.put("schedules", doc)
        return {"id": doc["id"]}

    def update_schedule(self, client: dict[str, Any], crq_id: str, schedule_id: str, body: Any) -> dict[str, Any]:
        doc = self.get_schedule(crq_id, schedule_id)
        body = require_object(body, "update run schedule")
        fields = self._schedule_fields(body, partial=True)
        if "endSchedule" in body and not body["endSchedule"]:
            doc.pop("endDateTime", None)
        doc.update(fields)
        doc["modifiedBy"] = client["_user"]
        doc["modifiedDate"] = self.stamp()
        self._check_schedule(doc)
        self.put("schedules", doc)
        return {"id": schedule_id}

    def delete_schedule(self, crq_id: str, schedule_id: str) -> dict[str, Any]:
        self.get_schedule(crq_id, schedule_id)
        self.delete("schedules", schedule_id)
        return {"success": True}

    # -- question runs ---------------------------------------------------------------------------
    def create_run(self, client: dict[str, Any], crq_id: str, body: Any) -> dict[str, Any]:
        crq = self.get_crq(crq_id)
        body = require_object(body, "create run")
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            raise bad_request("name is required")
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            raise bad_request("parameters must be an object of string values")
        room = self.must("cleanrooms", crq["cleanroomId"], "Cleanroom")
        self.require_open(room, "run questions")
        status = self._crq_status(crq)
        if status != READY:
            raise LiveRampError(412, f"Cleanroom question {crq_id} is not READY (status {status}): assign datasets to every data type first")
        settings = self.settings()
        if not self.take_budget("run", client["id"], int(settings["run_limit"]), float(settings["run_window_seconds"])):
            self.count_event("runs_refused", client["id"])
            raise LiveRampError(429, f"Rate limit exceeded: at most {settings['run_limit']} question runs per hour")
        now = self.now()
        run = {
            "id": self.new_id(),
            "name": body["name"],
            "status": "QUEUED",
            "submittedAt": iso(now),
            "parameters": {str(k): as_string(v) for k, v in params.items()},
            "partitionParameters": [],
            "runMetadata": {
                "dataOutLocation": f"s3://liveramp-sandbox-output/{crq_id}/",
                "datasetParameters": [
                    {"dataSetId": a["datasetId"], "dataSetName": a["datasetName"], "dataInLocation": f"sandbox://{a['dataConnectionId']}", "hashedColumns": []}
                    for _, a in sorted(crq["_assignments"].items())
                ],
            },
            "isRetryable": False,
            "runMessage": "",
            "questionVersion": crq["questionVersion"],
            "_crqId": crq_id,
            "_submitted": now,
        }
        self.put("runs", run)
        self.count_event("runs_created", client["id"])
        return public(run)

    def advance_run(self, run: dict[str, Any]) -> dict[str, Any]:
        """Move a run along its clock (QUEUED -> RUNNING -> outcome) and persist the change."""
        if run["status"] not in ("QUEUED", "RUNNING"):
            return run
        settings = self.settings()
        duration = float(settings["run_duration_seconds"])
        elapsed = self.now() - run["_submitted"]
        status = run["status"]
        if elapsed >= duration:
            status = settings["run_outcome"]
        elif elapsed >= duration / 2:
            status = "RUNNING"
        if status != run["status"]:
            self._set_run_status(run, status)
        return run

    def _set_run_status(self, run: dict[str, Any], status: str) -> None:
        start = run["_submitted"] + float(self.settings()["run_duration_seconds"]) / 2
        if status != "QUEUED" and not run.get("executedAt"):
            run["executedAt"] = iso(min(start, self.now()))
        if status in ("COMPLETED", "FAILED", "ERROR"):
            run["completedAt"] = self.stamp()
        if status == "FAILED":
            run["failureReason"] = "Query failed in the sandbox (requested by a control call)"
            run["isRetryable"] = True
        run["status"] = status
        self.put("runs", run)

    def finish_run(self, run_id: str, status: str) -> dict[str, Any]:
        run = self.must("runs", run_id, "Cleanroom question run")
        self._set_run_status(run, status)
        return public(run)

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self.advance_run(self.must("runs", run_id, "Cleanroom question run"))

    def list_runs(self, crq_id: str, args: Any) -> list[dict[str, Any]]:
        self.get_crq(crq_id)
        runs = [self.advance_run(r) for r in self._runs_of(crq_id)]
        status = args.get("status") or args.get("questionRunStatus")
        if status:
            if status not in RUN_STATUSES:
                raise bad_request(f"status '{status}' is not one of {sorted(RUN_STATUSES)}")
            runs = [r for r in runs if r["status"] == status]
        start = parse_date(args["startDate"], "startDate") if args.get("startDate") else None
        end = parse_date(args["endDate"], "endDate") if args.get("endDate") else None
        if start:
            runs = [r for r in runs if r["submittedAt"][:10] >= start]
        if end:
            runs = [r for r in runs if r["submittedAt"][:10] <= end]
        return page([public(r) for r in runs], args, 30, maximum=100)

    def delete_run(self, run_id: str) -> dict[str, Any]:
        self.must("runs", run_id, "Cleanroom question run")
        self.delete("runs", run_id)
        return {"success": True}

    def _result_rows(self, run: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        if run["status"] != "COMPLETED":
            raise bad_request(f"Cleanroom question run {run['id']} is {run['status']}: results exist only for COMPLETED runs")
        crq = self.get("crqs", run["_crqId"])
        details = crq["_details"] if crq else {"dimensions": [], "measures": []}
        dims = [d["name"] for d in details.get("dimensions", [])] or ["segment"]
        measures = [m["name"] for m in details.get("measures", [])] or ["users"]
        metadata = [{"fieldName": n, "dataType": "STRING", "columnName": n} for n in dims] + [
            {"fieldName": n, "dataType": "LONG", "columnName": n} for n in measures
        ]
        rows = []
        for i in range(5):
            row = {d: f"{d}_{i + 1}" for d in dims}
            for m in measures:
                digest = hashlib.sha256(f"{run['id']}/{i}/{m}".encode()).hexdigest()
                row[m] = str(1000 + int(digest[:6], 16) % 90000)
            rows.append(row)
        return metadata, rows

    def run_data(self, run_id: str, args: Any) -> dict[str, Any]:
        run = self.get_run(run_id)
        metadata, rows = self._result_rows(run)
        return {"metadata": metadata, "stats": page(rows, args, 500), "count": len(rows), "multipleOutputs": []}

    def run_data_count(self, run_id: str) -> int:
        return len(self._result_rows(self.get_run(run_id))[1])

    # -- lookups used by the control endpoint ----------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {
            "settings": self.settings(),
            "counters": self.counters(),
            "today": datetime.fromtimestamp(self.now(), UTC).date().isoformat(),
            "objects": {
                coll: len(self.all(coll))
                for coll in ("cleanrooms", "connections", "datasets", "invitations", "partners", "cr_users", "questions", "crqs", "schedules", "runs")
            },
        }


def parse_json_param(raw: str | None, name: str) -> Any:
    """A JSON array sent as a query parameter (how the spec documents two POST bodies)."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"query parameter {name} is not JSON") from exc
