"""Kinds ``Question``, ``CleanroomQuestion`` and ``QuestionRunSchedule``.

- Question: an org-level question template (``/question``); natural key ``title``. The API
  lists no questions, only each clean room's assets (``/cleanrooms/{id}/assets``: questions
  created in the room with ``?cleanRoomID=`` or added to it), so lookups by title search those:
  the room named by ``cleanroom_id`` alone when it is set, every room otherwise. A question with no
  ``cleanroom_id`` is in no room until a clean-room question adds it, so a create of one that is
  interrupted before that cannot be found again (``KindInfo.findable_with`` says so); with
  ``cleanroom_id`` it is found from the moment it exists.
  Nested items use snake_case (``import_data_type``, ``display_name``...) and compare without
  empty values. Each update bumps the API's content ``version``: that is not an optimistic-lock
  token, so writes are guarded by fingerprints like every LiveRamp kind.
- CleanroomQuestion: a question added to a clean room (natural key ``cleanroom_id`` +
  ``question_id``) with its dataset ``assignments`` (macro -> dataset, question field ->
  column; ownership is set before each assignment, to the caller's organisation unless
  ``organization_id`` names a partner) and its non-default ``permissions``. ``editable`` is
  write-only. ``LiveObject.status`` says ``awaiting-datasets`` until the API reports READY.
- QuestionRunSchedule: natural key (``cleanroom_question_id``, ``name``); remote id
  ``<cleanroom question id>:<schedule id>``. ``parameters`` is a map in the manifest (as the API
  answers it) and is sent as the list the API takes; ``start``/``end`` compare as UTC instants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.errors import NotFoundError, ProviderError
from reconciler.model import LiveObject
from reconciler.providers.base import KindInfo, load_schema
from reconciler.providers.liveramp import checks
from reconciler.providers.liveramp.convert import (
    as_id,
    compact,
    flag_string,
    instant,
    join_id,
    split_id,
    week_sorted,
)
from reconciler.providers.liveramp.kind import Kind

SCALARS = (
    ("title", "title"),
    ("description", "description"),
    ("category", "category"),
    ("output_format", "outputFormat"),
    ("visualization", "visualization"),
    ("is_analytics", "isAnalytics"),
    ("is_user_list_question", "isUserListQuestion"),
    ("has_date_parameters", "hasDateParameters"),
    ("has_date_filter", "hasDateFilter"),
    ("has_multiple_outputs", "hasMultipleOutputs"),
)
LISTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "queries": ("queryDetails", (("cleanroom_type", "cleanRoomType"), ("query", "query"), ("language", "queryLanguage"))),
    "data_types": ("dataTypes", (("macro", "macro"), ("import_data_type", "importDataType"), ("fields", "dataSetTypeFields"))),
    "parameters": (
        "parameters",
        (
            ("name", "name"), ("type", "type"), ("display_name", "displayName"), ("description", "description"),
            ("example_value", "exampleValue"), ("format", "format"), ("default_value", "defaultValue"),
        ),
    ),
    "dimensions": ("dimensions", (("name", "name"), ("type", "type"), ("display_name", "displayName"))),
    "measures": ("measures", (("name", "name"), ("type", "type"), ("is_identity", "isIdentity"), ("noise", "noise"))),
}
DEFAULT_ACCESS = "QUESTION_OWNER_ONLY"


def _items_from_api(items: Any, keys: tuple[tuple[str, str], ...]) -> list[Any]:
    out = []
    for item in items or []:
        mapped = {ours: item.get(theirs) for ours, theirs in keys if isinstance(item, Mapping)}
        if "fields" in mapped:
            mapped["fields"] = [compact({"name": f.get("name"), "type": f.get("type")}) for f in mapped["fields"] or []]
        out.append(compact(mapped))
    return out


def _items_to_api(items: Any, keys: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    out = []
    for item in items or []:
        mapped = {theirs: item[ours] for ours, theirs in keys if ours in item}
        if "dataSetTypeFields" in mapped or any(ours == "fields" for ours, _ in keys):
            mapped["dataSetTypeFields"] = [dict(f) for f in item.get("fields") or []]  # must be present (server NPE)
        out.append(mapped)
    return out


class QuestionKind(Kind):
    info = KindInfo(
        name="Question",
        schema=load_schema("liveramp/Question.schema.json"),
        natural_key=("title",),
        immutable_fields=frozenset({"cleanroom_id"}),
        write_only_fields=frozenset({"query_validation"}),
        findable_with=("cleanroom_id",),
        vendor_fields={"queryDetails": "queries", "dataTypes": "data_types"},
    )

    def _live(self, raw: Mapping[str, Any]) -> LiveObject:
        details = raw.get("questionDetails") or {}
        fields: dict[str, Any] = {ours: details.get(theirs) for ours, theirs in SCALARS if details.get(theirs) is not None}
        fields["tags"] = [str(t) for t in details.get("tags") or []]
        for ours, (theirs, keys) in LISTS.items():
            fields[ours] = _items_from_api(details.get(theirs), keys)
        if raw.get("cleanRoomID"):
            fields["cleanroom_id"] = str(raw["cleanRoomID"])
        return LiveObject(self.name, str(raw["id"]), fields)

    def normalize(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        for key in LISTS:
            if key in out:
                items = [compact(dict(i)) for i in out[key] or []]
                if key == "queries":
                    items = [{**i, "language": i.get("language", "SQL")} for i in items]
                if key == "data_types":
                    items = [{**i, "macro": i.get("macro") or i.get("import_data_type")} for i in items]
                out[key] = items
        if "tags" in out:
            out["tags"] = [str(t) for t in out["tags"] or []]
        if "cleanroom_id" in out:
            out["cleanroom_id"] = as_id(out["cleanroom_id"])
        return out

    def read(self, remote_ids: Sequence[str]) -> dict[str, LiveObject]:
        def one(remote_id: str) -> LiveObject | None:
            try:
                return self._live(self.client.get(f"/question/{remote_id}"))
            except NotFoundError:
                return None

        ids = list(dict.fromkeys(remote_ids))
        return {i: live for i, live in zip(ids, self.client.fan_out(one, ids), strict=True) if live is not None}

    def _in_rooms(self, room: str | None) -> list[tuple[str, str]]:
        """(question id, title) of the questions available in clean rooms: created in one with
        ``?cleanRoomID=`` or added to one (the API lists no questions outside a room)."""
        rooms = [room] if room else [str(r["id"]) for r in self.client.paged("/cleanrooms")]
        seen: dict[str, str] = {}
        for room_id in rooms:
            try:
                assets = self.client.get(f"/cleanrooms/{room_id}/assets")
            except NotFoundError:
                continue
            for q in (assets.get("questions") if isinstance(assets, Mapping) else None) or []:
                if isinstance(q, Mapping) and q.get("ID"):
                    seen.setdefault(str(q["ID"]), str(q.get("title", "")))
        return sorted(seen.items())

    def list_children(self, parent_id: str | None) -> list[LiveObject]:
        return list(self.read([qid for qid, _ in self._in_rooms(parent_id)]).values())

    def find_all(self, specs: Sequence[Mapping[str, Any]]) -> list[list[LiveObject]]:
        """By title among the questions available in the spec's clean room (every room when it
        names none: the API lists questions only through rooms); one assets call per room, and
        only the questions whose title matches are read."""
        rooms = sorted({as_id(s.get("cleanroom_id")) or "" for s in specs if s.get("title")})
        listed = dict(zip(rooms, self.client.fan_out(lambda room: self._in_rooms(room or None), rooms), strict=True))
        titles = {qid for room in rooms for qid, title in listed[room] if any(s.get("title") == title for s in specs)}
        read = self.read(sorted(titles))
        out = []
        for spec in specs:
            room = as_id(spec.get("cleanroom_id")) or ""
            ids = [qid for qid, title in listed.get(room, []) if spec.get("title") and title == spec.get("title")]
            out.append([read[q] for q in ids if q in read and read[q].fields.get("title") == spec.get("title")])
        return out

    @staticmethod
    def _details(spec: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> dict[str, Any]:
        details = dict(base or {})
        for ours, theirs in SCALARS:
            if ours in spec:
                details[theirs] = spec[ours]
        details["tags"] = list(spec.get("tags") or [])
        for ours, (theirs, keys) in LISTS.items():
            details[theirs] = _items_to_api(spec.get(ours), keys)
        return details

    def create(self, spec: Mapping[str, Any]) -> LiveObject:
        spec = self.normalize(spec)
        body: dict[str, Any] = {
            "questionDetails": self._details(spec),
            "settings": {"queryValidation": bool(spec.get("query_validation", True))},
        }
        params = {}
        if spec.get("cleanroom_id"):
            body["cleanRoomID"] = spec["cleanroom_id"]
            params["cleanRoomID"] = spec["cleanroom_id"]
        answer = self.client.call("POST", "/question", params=params or None, json=body)
        if not answer.get("success", True) or not answer.get("questionID"):
            raise ProviderError(f"liveramp Question '{spec.get('title')}': the API did not create it: {answer.get('message') or answer}")
        return self.read_one(str(answer["questionID"]))

    def write(self, current: LiveObject, desired: dict[str, Any]) -> LiveObject:
        raw = self.client.get(f"/question/{current.remote_id}")
        body = {
            "questionDetails": self._details(desired, raw.get("questionDetails")),
            "cleanRoomID": raw.get("cleanRoomID") or "",  # must be present (server NPE otherwise)
            "settings": {"queryValidation": bool(desired.get("query_validation", True))},
        }
        answer = self.client.call("PUT", f"/question/{current.remote_id}", json=body)
        if isinstance(answer, Mapping) and answer.get("success") is False:
            raise ProviderError(f"liveramp Question {current.remote_id}: update refused: {answer.get('message')}")
        return self.read_one(current.remote_id)

    def delete(self, current: LiveObject) -> None:
        self.client.call("DELETE", f"/question/{current.remote_id}")


class CleanroomQuestionKind(Kind):
    info = KindInfo(
        name="CleanroomQuestion",
        schema=load_schema("liveramp/CleanroomQuestion.schema.json"),
        natural_key=("cleanroom_id", "question_id"),
        unique_key=True,  # the API refuses a second one
        parent_field="cleanroom_id",
        immutable_fields=frozenset({"cleanroom_id", "question_id"}),
        write_only_fields=frozenset({"editable"}),
        list_keys={"assignments": "macro"},
        checks=(checks.assignment_macros,),
        vendor_fields={"datasetId": "assignments", "macro": "assignments"},
    )

    def _live(self, raw: Mapping[str, Any], datasets: list[Mapping[str, Any]], permissions: list[Mapping[str, Any]]) -> LiveObject:
        room = str(raw["cleanroomId"])
        own = self.client.org_id(room)
        assignments = []
        for entry in datasets:
            if not entry.get("datasetId"):
                continue  # ownership without a dataset is not an assignment yet
            item: dict[str, Any] = {
                "macro": entry.get("macro"),
                "dataset_id": str(entry["datasetId"]),
                "fields": {str(f["name"]): str(f.get("value", "")) for f in entry.get("fields") or []},
            }
            if entry.get("organizationId") and entry["organizationId"] != own:
                item["organization_id"] = str(entry["organizationId"])
            assignments.append(compact(item))
        fields = {
            "cleanroom_id": room,
            "question_id": str(raw["questionId"]),
            "assignments": sorted(assignments, key=lambda a: str(a.get("macro"))),
            # every permission, the default access too: a value written in a manifest is
            # compared even when it equals the default (field ownership keeps only written keys)
            "permissions": {
                str(p["permission"]): str(p.get("access") or DEFAULT_ACCESS)
                for p in sorted(permissions, key=lambda p: str(p["permission"]))
            },
        }
        status = None if raw.get("status") == "READY" else "awaiting-datasets"
        return LiveObject(self.name, str(raw["id"]), fields, status=status)

    def _own_org(self, room: str) -> str | None:
        try:
            return self.client.org_id(room)
        except (NotFoundError, ProviderError):
            return None

    def normalize(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        for key in ("cleanroom_id", "question_id"):
            if key in out:
                out[key] = as_id(out[key])
        if "assignments" in out:
            own = self._own_org(out["cleanroom_id"]) if out.get("cleanroom_id") else None
            items = []
            for a in out["assignments"] or []:
                item: dict[str, Any] = {
                    "macro": a.get("macro"),
                    "dataset_id": as_id(a.get("dataset_id")),
                    "fields": {str(k): str(v) for k, v in (a.get("fields") or {}).items()},
                }
                org = as_id(a.get("organization_id"))
                if org and org != own:
                    item["organization_id"] = org
                items.append(compact(item))
            out["assignments"] = sorted(items, key=lambda a: str(a.get("macro")))
        if "permissions" in out:
            out["permissions"] = {str(k): str(v) for k, v in sorted((out["permissions"] or {}).items())}
        return out

    def _load(self, raw: Mapping[str, Any]) -> LiveObject:
        crq = str(raw["id"])
        datasets = self.client.get(f"/cleanroom-questions/{crq}/datasets") or []
        permissions = self.client.get(f"/cleanroom-questions/{crq}/cleanroom-question-permissions") or []
        return self._live(raw, datasets, permissions)

    def _get(self, remote_id: str) -> Mapping[str, Any] | None:
        try:
            raw: Mapping[str, Any] = self.client.get(f"/cleanroom-questions/{remote_id}")
        except NotFoundError:
            return None
        return raw

    def _listed(self, room: str) -> list[Mapping[str, Any]]:
        try:
            return list(self.client.paged(f"/cleanrooms/{room}/cleanroom-questions"))
        except NotFoundError:  # the clean room went away since it was listed
            return []

    def _loaded(self, raw: Mapping[str, Any]) -> LiveObject | None:
        try:
            return self._load(raw)
        except NotFoundError:  # deleted between the listing and the reads of its parts
            return None

    def read(self, remote_ids: Sequence[str]) -> dict[str, LiveObject]:
        """Each clean-room question needs its own dataset and permission lists (two calls). The
        question itself comes from its clean room's list when that takes fewer calls than one
        GET per id (many questions per room), else by id."""
        ids = list(dict.fromkeys(remote_ids))
        wanted = set(ids)
        raws: list[Mapping[str, Any]] = []
        rooms = [str(r["id"]) for r in self.client.paged("/cleanrooms")] if len(ids) > 2 else None
        if rooms is not None and len(rooms) < len(ids):
            for listed in self.client.fan_out(self._listed, rooms):
                raws.extend(raw for raw in listed if str(raw.get("id")) in wanted)
        else:
            raws = [raw for raw in self.client.fan_out(self._get, ids) if raw is not None]
        loaded = self.client.fan_out(self._loaded, raws)
        return {live.remote_id: live for live in loaded if live is not None}

    def list_children(self, parent_id: str | None) -> list[LiveObject]:
        rooms = [parent_id] if parent_id else [str(r["id"]) for r in self.client.paged("/cleanrooms")]
        return [self._load(raw) for room in rooms for raw in self.client.paged(f"/cleanrooms/{room}/cleanroom-questions")]

    def find_all(self, specs: Sequence[Mapping[str, Any]]) -> list[list[LiveObject]]:
        """One call per spec (``/cleanrooms/{room}/questions/{question}`` names the one clean-room
        question of that pair), then one batched read of the ones found: listing a room would read
        the datasets and permissions of every question in it."""

        def ref(spec: Mapping[str, Any]) -> str | None:
            key = self.normalize({k: spec[k] for k in ("cleanroom_id", "question_id") if k in spec})
            if not key.get("cleanroom_id") or not key.get("question_id"):
                return None
            try:
                return str(self.client.get(f"/cleanrooms/{key['cleanroom_id']}/questions/{key['question_id']}")["id"])
            except NotFoundError:
                return None

        ids = self.client.fan_out(ref, list(specs))
        read = self.read([i for i in ids if i is not None])
        return [[read[i]] if i is not None and i in read else [] for i in ids]

    def _apply(self, crq: str, room: str, desired: Mapping[str, Any], current: Mapping[str, Any]) -> None:
        have = {a["macro"]: a for a in current.get("assignments") or []}
        want = {a["macro"]: a for a in desired.get("assignments") or []}
        dropped = sorted(set(have) - set(want))
        if dropped:
            raise ProviderError(
                f"liveramp CleanroomQuestion {crq}: the Clean Room API cannot unassign the dataset of macro(s) {', '.join(dropped)}; "
                "assign another dataset instead"
            )
        changed = [a for m, a in sorted(want.items()) if have.get(m) != a]
        if changed:
            own = self.client.org_id(room)
            ownership = [{"organizationId": a.get("organization_id") or own, "macro": a["macro"]} for a in changed]
            self.client.call("POST", f"/cleanroom-questions/{crq}/datasets-ownership", json=ownership)
            body = [
                {"datasetId": a["dataset_id"], "macro": a["macro"], "fields": [{"name": k, "value": v} for k, v in sorted((a.get("fields") or {}).items())]}
                for a in changed
            ]
            self.client.call("POST", f"/cleanroom-questions/{crq}/datasets", json=body)
        want_perms = dict(desired.get("permissions") or {})
        have_perms = dict(current.get("permissions") or {})
        if want_perms != have_perms:
            body = [{"permission": p, "access": a} for p, a in sorted(want_perms.items())]
            body += [{"permission": p, "access": DEFAULT_ACCESS} for p in sorted(set(have_perms) - set(want_perms))]
            self.client.call("POST", f"/cleanroom-questions/{crq}/cleanroom-question-permissions", json=body)

    def create(self, spec: Mapping[str, Any]) -> LiveObject:
        spec = self.normalize(spec)
        room = spec["cleanroom_id"]
        params = {"questionId": spec["question_id"], "isEditable": "true" if spec.get("editable", True) else "false"}
        raw = self.client.call("POST", f"/cleanrooms/{room}/cleanroom-questions", params=params)
        self._apply(str(raw["id"]), room, spec, {})
        return self.read_one(str(raw["id"]))

    def write(self, current: LiveObject, desired: dict[str, Any]) -> LiveObject:
        self._apply(current.remote_id, current.fields["cleanroom_id"], desired, current.fields)
        return self.read_one(current.remote_id)

    def delete(self, current: LiveObject) -> None:
        self.client.call("DELETE", f"/cleanroom-questions/{current.remote_id}")


def _schedule_parameter(value: Any) -> dict[str, Any]:
    p: Mapping[str, Any] = value if isinstance(value, Mapping) else {"value": value}
    qualifier = p.get("date_qualifier")
    date_type = p.get("date_type")
    if qualifier and not date_type:
        date_type = "ABSOLUTE"
    if date_type == "ABSOLUTE" and not qualifier:
        date_type = None
    item = {
        "value": flag_string(p.get("value")),
        "data_type": p.get("data_type") or "STRING",
        "parameter_type": p.get("parameter_type") or "RUN_PARAMETER",
        "date_qualifier": qualifier,
        "date_type": date_type,
    }
    result: dict[str, Any] = compact(item)
    return result


class QuestionRunScheduleKind(Kind):
    info = KindInfo(
        name="QuestionRunSchedule",
        schema=load_schema("liveramp/QuestionRunSchedule.schema.json"),
        natural_key=("cleanroom_question_id", "name"),
        unique_key=True,  # the API refuses a second one
        parent_field="cleanroom_question_id",
        immutable_fields=frozenset({"cleanroom_question_id"}),
        checks=(checks.schedule_rules,),
        vendor_fields={"startSchedule": "start", "endSchedule": "end", "repeatFrequency": "frequency", "repeatDayofMonth": "days_of_month"},
    )

    def _live(self, crq: str, raw: Mapping[str, Any]) -> LiveObject:
        params = {}
        for name, p in sorted((raw.get("parameters") or {}).items()):
            params[str(name)] = _schedule_parameter(
                {
                    "value": p.get("value"),
                    "data_type": p.get("type"),
                    "parameter_type": p.get("parameterType"),
                    "date_qualifier": p.get("qualifier"),
                    "date_type": "RELATIVE" if p.get("isStatic") is False else ("ABSOLUTE" if p.get("qualifier") else None),
                }
            )
        fields: dict[str, Any] = {
            "cleanroom_question_id": crq,
            "name": raw.get("name", ""),
            "frequency": raw.get("repeatFrequency", ""),
            "start": instant(raw.get("startDateTime")),
            "days_of_week": week_sorted(raw.get("daysOfWeek")),
            "days_of_month": sorted(int(d) for d in raw.get("repeatDayofMonth") or []),
            "parameters": params,
        }
        if raw.get("endDateTime"):
            fields["end"] = instant(raw["endDateTime"])
        status = None if raw.get("active", True) else "inactive"
        return LiveObject(self.name, join_id(crq, str(raw["id"])), fields, status=status)

    def normalize(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if "cleanroom_question_id" in out:
            out["cleanroom_question_id"] = as_id(out["cleanroom_question_id"])
        for key in ("start", "end"):
            if key in out:
                out[key] = instant(out[key])
        if out.get("end") is None:
            out.pop("end", None)
        if "days_of_week" in out:
            out["days_of_week"] = week_sorted(out["days_of_week"])
        if "days_of_month" in out:
            out["days_of_month"] = sorted(int(d) for d in out["days_of_month"] or [])
        if "parameters" in out:
            out["parameters"] = {str(k): _schedule_parameter(v) for k, v in sorted((out["parameters"] or {}).items())}
        return out

    def _list(self, crq: str) -> list[LiveObject]:
        return [self._live(crq, raw) for raw in self.client.get(f"/cleanroom-questions/{crq}/cleanroom-question-run-schedules") or []]

    def read(self, remote_ids: Sequence[str]) -> dict[str, LiveObject]:
        return self.read_under_parents(remote_ids, self._list)

    def list_children(self, parent_id: str | None) -> list[LiveObject]:
        if parent_id:
            return self._list(parent_id)
        crqs = [str(c["id"]) for r in self.client.paged("/cleanrooms") for c in self.client.paged(f"/cleanrooms/{r['id']}/cleanroom-questions")]
        return [s for crq in crqs for s in self._list(crq)]


    @staticmethod
    def _body(spec: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": spec["name"],
            "startSchedule": spec["start"],
            "repeatFrequency": spec["frequency"],
            "daysOfWeek": list(spec.get("days_of_week") or []),
            "repeatDayofMonth": list(spec.get("days_of_month") or []),
            "parameters": [
                compact(
                    {
                        "name": name,
                        "value": p.get("value", ""),
                        "dataType": p.get("data_type"),
                        "parameterType": p.get("parameter_type"),
                        "dateQualifier": p.get("date_qualifier"),
                        "dateType": p.get("date_type"),
                    }
                )
                for name, p in sorted((spec.get("parameters") or {}).items())
            ],
        }
        body["endSchedule"] = spec.get("end") or ""
        return body

    def create(self, spec: Mapping[str, Any]) -> LiveObject:
        spec = self.normalize(spec)
        crq = spec["cleanroom_question_id"]
        body = self._body(spec)
        if not body["endSchedule"]:
            body.pop("endSchedule")
        answer = self.client.call("POST", f"/cleanroom-questions/{crq}/cleanroom-question-run-schedules", json=body)
        return self.read_one(join_id(crq, str(answer["id"])))

    def write(self, current: LiveObject, desired: dict[str, Any]) -> LiveObject:
        crq, schedule = split_id(current.remote_id, self.name)
        self.client.call("PATCH", f"/cleanroom-questions/{crq}/cleanroom-question-run-schedules/{schedule}", json=self._body(desired))
        return self.read_one(current.remote_id)

    def delete(self, current: LiveObject) -> None:
        crq, schedule = split_id(current.remote_id, self.name)
        self.client.call("DELETE", f"/cleanroom-questions/{crq}/cleanroom-question-run-schedules/{schedule}")
