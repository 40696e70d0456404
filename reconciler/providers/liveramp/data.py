"""Kinds ``DataConnection`` (with its field configuration) and ``CleanroomDataset``.

- DataConnection: org-level; natural key ``name``. ``data_type``/``data_source`` are names from
  the API's lookups and cannot change in place. ``configuration`` is the
  ``dataSourceConfiguration`` list as a name -> value map; ``fields`` is the field
  configuration (``POST .../field-configurations``), one item per column in order.
- CleanroomDataset: a data connection configured into a clean room; natural key
  (``cleanroom_id``, ``data_connection_id``). The API has no delete, so the kind is not
  deletable and removing its manifest abandons it. ``field_mappings`` lists only the columns
  renamed or excluded; ``ramp_id_consent`` is sent once, when configuring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.errors import NotFoundError, ProviderError
from reconciler.model import LiveObject, OnDelete
from reconciler.providers.base import KindInfo, load_schema
from reconciler.providers.liveramp.convert import as_id, compact, flag_string
from reconciler.providers.liveramp.kind import Kind

FIELD_KEYS = (
    ("name", "fieldName"),
    ("type", "dataType"),
    ("label", "fieldLabel"),
    ("identifier_type", "identifierType"),
    ("delimiter", "delimiter"),
    ("pii", "isPii"),
    ("user_id", "isUserIdField"),
    ("excluded", "isExcluded"),
    ("partition", "isPartitionColumn"),
)


def _field_item(item: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(item)
    out.setdefault("type", "STRING")
    if out.get("label") == out.get("name"):
        out.pop("label", None)
    return dict(compact(out))


def _field_mapping(m: Mapping[str, Any]) -> dict[str, Any] | None:
    """A dataset field mapping with its default filled in (``excluded: false``), so a value
    written in the manifest is compared and shown even when it is the default; None for a
    mapping that neither renames nor excludes (it maps nothing)."""
    rename = m.get("rename") or None
    excluded = bool(m.get("excluded", False))
    if rename is None and not excluded:
        return None
    item: dict[str, Any] = {"field": m.get("field"), "excluded": excluded}
    if rename is not None:
        item["rename"] = rename
    return item


class DataConnectionKind(Kind):
    info = KindInfo(
        name="DataConnection",
        schema=load_schema("liveramp/DataConnection.schema.json"),
        natural_key=("name",),
        immutable_fields=frozenset({"data_type", "data_source"}),
        vendor_fields={"dataSourceConfiguration": "configuration", "fieldConfigurations": "fields"},
    )

    def _live(self, raw: Mapping[str, Any], fields: list[Mapping[str, Any]]) -> LiveObject:
        out: dict[str, Any] = {
            "name": raw.get("name", ""),
            "category": raw.get("category", ""),
            "data_type": (raw.get("dataType") or {}).get("name", ""),
            "data_source": (raw.get("dataSource") or {}).get("name", ""),
            "configuration": {str(p["name"]): str(p.get("value", "")) for p in raw.get("dataSourceConfiguration") or []},
            "fields": [
                _field_item({ours: f.get(theirs) for ours, theirs in FIELD_KEYS})
                for f in sorted(fields, key=lambda f: int(f.get("fieldIndex", 0)))
            ],
        }
        if raw.get("credentialId"):
            out["credential_id"] = raw["credentialId"]
        status = None if raw.get("configStatus") in (None, "COMPLETE") else str(raw["configStatus"]).lower()
        return LiveObject(self.name, str(raw["id"]), out, status=status)

    def normalize(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if "configuration" in out:
            out["configuration"] = {str(k): flag_string(v) for k, v in (out["configuration"] or {}).items()}
        if "fields" in out:
            out["fields"] = [_field_item(f) for f in out["fields"] or []]
        if "credential_id" in out:
            out["credential_id"] = as_id(out["credential_id"])
        return out

    def _with_fields(self, raw: Mapping[str, Any]) -> LiveObject:
        fields = self.client.get(f"/data-connections/{raw['id']}/field-configurations") or []
        return self._live(raw, fields)

    def read(self, remote_ids: Sequence[str]) -> dict[str, LiveObject]:
        wanted = set(remote_ids)
        raws = [r for r in self.client.get("/data-connections") or [] if str(r["id"]) in wanted]
        return {live.remote_id: live for live in self.client.fan_out(self._with_fields, raws)}

    def list_children(self, parent_id: str | None) -> list[LiveObject]:
        return [self._with_fields(r) for r in self.client.get("/data-connections") or []]

    def find_all(self, specs: Sequence[Mapping[str, Any]]) -> list[list[LiveObject]]:
        """One listing for every spec; field configurations are read only for the matches."""
        listed = self.client.get("/data-connections") or [] if specs else []
        return [
            [self._with_fields(raw) for raw in listed if spec.get("name") and raw.get("name") == spec.get("name")]
            for spec in specs
        ]

    @staticmethod
    def _body(spec: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": spec["name"],
            "category": spec.get("category", ""),
            "dataType": {"name": spec["data_type"]},
            "dataSource": {"name": spec["data_source"]},
            "dataSourceConfiguration": [{"name": k, "value": v} for k, v in sorted((spec.get("configuration") or {}).items())],
        }
        if spec.get("credential_id"):
            body["credentialId"] = spec["credential_id"]
        return body

    @staticmethod
    def _fields_body(fields: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        body = []
        for index, item in enumerate(fields):
            entry: dict[str, Any] = {theirs: item[ours] for ours, theirs in FIELD_KEYS if ours in item}
            entry["fieldIndex"] = index
            body.append(entry)
        return body

    def create(self, spec: Mapping[str, Any]) -> LiveObject:
        spec = self.normalize(spec)
        raw = self.client.call("POST", "/data-connections", json=self._body(spec))
        if spec.get("fields"):
            self.client.call("POST", f"/data-connections/{raw['id']}/field-configurations", json=self._fields_body(spec["fields"]))
            # mapping the fields moves the connection on (MAPPING_REQUIRED -> COMPLETE): read it back
            return self.read_one(str(raw["id"]))
        return self._live(raw, [])

    def write(self, current: LiveObject, desired: dict[str, Any]) -> LiveObject:
        base_keys = ("name", "category", "configuration", "credential_id")
        if any(desired.get(k) != current.fields.get(k) for k in base_keys):
            self.client.call("PUT", f"/data-connections/{current.remote_id}", json=self._body(desired))
        if desired.get("fields") != current.fields.get("fields"):
            self.client.call("POST", f"/data-connections/{current.remote_id}/field-configurations", json=self._fields_body(desired.get("fields") or []))
        return self.read_one(current.remote_id)

    def delete(self, current: LiveObject) -> None:
        self.client.call("DELETE", f"/data-connections/{current.remote_id}")


class CleanroomDatasetKind(Kind):
    info = KindInfo(
        name="CleanroomDataset",
        schema=load_schema("liveramp/CleanroomDataset.schema.json"),
        natural_key=("cleanroom_id", "data_connection_id"),
        unique_key=True,  # the API refuses a second one
        parent_field="cleanroom_id",
        immutable_fields=frozenset({"cleanroom_id", "data_connection_id"}),
        deletable=False,
        default_on_delete=OnDelete.ABANDON,
        write_only_fields=frozenset({"ramp_id_consent"}),
        list_keys={"field_mappings": "field"},
        vendor_fields={"datasetFieldMappings": "field_mappings", "datasetFilters": "filters"},
    )

    def _live(self, raw: Mapping[str, Any]) -> LiveObject:
        mappings = []
        for m in raw.get("datasetFieldMappings") or []:
            item = _field_mapping({"field": m.get("fieldName"), "rename": m.get("rename"), "excluded": m.get("isExcluded")})
            if item is not None:
                mappings.append(item)
        fields = {
            "cleanroom_id": str(raw["cleanRoomId"]),
            "data_connection_id": str(raw["dataConnectionId"]),
            "partner_can_assign": bool(raw.get("partnerCanAssign", False)),
            "field_mappings": sorted(mappings, key=lambda m: m["field"]),
            "filters": [
                {"field": f.get("datasetFieldName"), "operator": f.get("operator", ""), "values": [str(v) for v in f.get("values") or []]}
                for f in raw.get("datasetFilters") or []
            ],
        }
        return LiveObject(self.name, str(raw["id"]), fields)

    def normalize(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        for key in ("cleanroom_id", "data_connection_id"):
            if key in out:
                out[key] = as_id(out[key])
        if "field_mappings" in out:
            items = [_field_mapping(m) for m in out["field_mappings"] or []]
            out["field_mappings"] = sorted((m for m in items if m is not None), key=lambda m: m["field"])
        if "filters" in out:
            out["filters"] = [
                {"field": f["field"], "operator": f.get("operator", ""), "values": [str(v) for v in f.get("values") or []]}
                for f in out["filters"] or []
            ]
        return out

    def _rooms(self) -> list[str]:
        return [str(r["id"]) for r in self.client.paged("/cleanrooms")]

    def _room_datasets(self, room: str) -> list[Mapping[str, Any]]:
        try:
            return list(self.client.get(f"/cleanrooms/{room}/datasets") or [])
        except NotFoundError:  # the clean room went away since it was listed
            return []

    def read(self, remote_ids: Sequence[str]) -> dict[str, LiveObject]:
        """The API lists datasets per clean room only: rooms are read a wave at a time (the
        client's read concurrency), stopping once every wanted id was found."""
        wanted = set(remote_ids)
        found: dict[str, LiveObject] = {}
        rooms = self._rooms()
        wave = max(1, self.client.read_concurrency)
        for start in range(0, len(rooms), wave):
            if not wanted - set(found):
                break
            for datasets in self.client.fan_out(self._room_datasets, rooms[start : start + wave]):
                for raw in datasets:
                    if str(raw["id"]) in wanted:
                        found[str(raw["id"])] = self._live(raw)
        return found

    def list_children(self, parent_id: str | None) -> list[LiveObject]:
        rooms = [parent_id] if parent_id else self._rooms()
        return [self._live(raw) for room in rooms for raw in self.client.get(f"/cleanrooms/{room}/datasets") or []]

    def _put(self, room: str, dataset: str, desired: Mapping[str, Any]) -> None:
        body = {
            "datasetFieldMappings": [
                {"fieldName": m["field"], "isExcluded": bool(m.get("excluded", False)), "rename": m.get("rename", "")}
                for m in desired.get("field_mappings") or []
            ],
            "datasetFilters": [
                {"datasetFieldName": f["field"], "operator": f.get("operator", ""), "values": list(f.get("values") or [])}
                for f in desired.get("filters") or []
            ],
        }
        self.client.call("PUT", f"/cleanrooms/{room}/datasets/{dataset}", json=body)

    def _assign(self, room: str, dataset: str, allowed: bool) -> None:
        self.client.call("POST", f"/cleanrooms/{room}/datasets/partner-assignment", json=[{"datasetId": dataset, "partnerCanAssign": allowed}])

    def create(self, spec: Mapping[str, Any]) -> LiveObject:
        spec = self.normalize(spec)
        room = spec["cleanroom_id"]
        raw = self.client.call(
            "POST",
            f"/cleanrooms/{room}/datasets/configure",
            params={"dataConnectionId": spec["data_connection_id"]},
            json={"rampIDConsent": bool(spec.get("ramp_id_consent", False))},
        )
        dataset = str(raw["id"])
        if spec.get("field_mappings") or spec.get("filters"):
            self._put(room, dataset, spec)
        if spec.get("partner_can_assign"):
            self._assign(room, dataset, True)
        return self._live(self.client.get(f"/cleanrooms/{room}/datasets/{dataset}"))

    def write(self, current: LiveObject, desired: dict[str, Any]) -> LiveObject:
        room = current.fields["cleanroom_id"]
        if any(desired.get(k) != current.fields.get(k) for k in ("field_mappings", "filters")):
            self._put(room, current.remote_id, desired)
        if bool(desired.get("partner_can_assign")) != current.fields.get("partner_can_assign"):
            self._assign(room, current.remote_id, bool(desired.get("partner_can_assign")))
        return self._live(self.client.get(f"/cleanrooms/{room}/datasets/{current.remote_id}"))

    def delete(self, current: LiveObject) -> None:
        raise ProviderError(
            f"liveramp CleanroomDataset {current.remote_id}: the Clean Room API cannot remove a dataset from a clean room; "
            "it is abandoned (left in place) instead"
        )
