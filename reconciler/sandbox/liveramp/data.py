"""Data connections, their field configurations, clean-room datasets and lookups (reference §1.6).

A data connection needs its field configuration before it can be configured into a clean room;
configuring makes a clean-room dataset whose fields and mappings derive from that
configuration. Datasets are updated (mappings and filters) and flagged for partner assignment,
but never deleted: the real API has no call for it, so ``DELETE`` answers 405.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.liveramp import reference as ref
from reconciler.sandbox.liveramp.common import (
    as_bool,
    bad_request,
    not_found,
    public,
    require_list,
    require_object,
)
from reconciler.sandbox.liveramp.rooms import RoomsMixin

IDENTIFIER_TYPES = frozenset(
    [
        "", "1P or 3P Cookie", "Customer First Party Identifier", "Hashed Emails", "HouseHold ID", "Email MD5 Hashed",
        "Mobile Device Identifier", "Person (or People) Identifier", "RampID", "Raw Email", "Email SHA1 Hashed",
        "Email SHA256 Hashed", "Unique Identifier", "City", "State", "Country", "Postal Code", "Street Address",
        "Address Line 1", "Address Line 2", "Name", "First Name", "Middle Name", "Last Name", "TV Device ID",
        "IP Address", "phone", "Hashed Customer ID",
    ]
)
FILTER_OPERATORS = frozenset({"", "EQUALS", "NOT_EQUALS", "IN", "NOT_IN"})


def _lookup(items: list[dict[str, Any]], raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request(f"{what} must be an object with an id or a name")
    for item in items:
        if raw.get("id") and raw["id"] == item["id"]:
            return item
        if raw.get("name") and raw["name"] == item["name"]:
            return item
        if not raw.get("id") and not raw.get("name") and raw.get("displayName") == item["displayName"]:
            return item
    known = ", ".join(i["name"] for i in items)
    raise bad_request(f"Unknown {what} {raw.get('id') or raw.get('name') or raw.get('displayName')!r}; known names: {known}")


class DataMixin(RoomsMixin):
    # -- lookups ---------------------------------------------------------------------------------
    def data_sources(self) -> list[dict[str, Any]]:
        return ref.data_sources()

    def data_source(self, source_id: str) -> dict[str, Any]:
        for s in ref.data_sources():
            if s["id"] == source_id:
                return s
        raise not_found("Data source", source_id)

    def data_type(self, type_id: str) -> dict[str, Any]:
        for t in ref.data_types():
            if t["id"] == type_id:
                return t
        raise not_found("Data type", type_id)

    # -- data connections ------------------------------------------------------------------------
    def _connection_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad_request("name is required")
        config = body.get("dataSourceConfiguration") or []
        if not isinstance(config, list):
            raise bad_request("dataSourceConfiguration must be an array")
        params = []
        for item in config:
            if not isinstance(item, dict) or not item.get("name"):
                raise bad_request("each dataSourceConfiguration entry needs a name")
            params.append(
                {
                    "id": ref.stable_id("job-parameter", str(item["name"])),
                    "name": str(item["name"]),
                    "displayName": str(item.get("displayName") or item["name"]),
                    "value": "" if item.get("value") is None else str(item["value"]),
                }
            )
        fields: dict[str, Any] = {
            "name": name,
            "category": str(body.get("category") or ""),
            "dataType": _lookup(ref.data_types(), body.get("dataType"), "dataType"),
            "dataSource": _lookup(ref.data_sources(), body.get("dataSource"), "dataSource"),
            "dataSourceConfiguration": params,
        }
        if body.get("credentialId"):
            fields["credentialId"] = str(body["credentialId"])
        return fields

    def list_connections(self, client: dict[str, Any]) -> list[dict[str, Any]]:
        return [public(c) for c in self.all("connections") if c["_org"] == client["_org"]]

    def get_connection(self, connection_id: str) -> dict[str, Any]:
        return self.must("connections", connection_id, "Data connection")

    def create_connection(self, client: dict[str, Any], body: Any) -> dict[str, Any]:
        fields = self._connection_fields(require_object(body, "create data connection"))
        doc = {
            "id": self.new_id(),
            **fields,
            "configStatus": "MAPPING_REQUIRED",
            "runStatus": "SUCCESS",
            "stage": "ACTIVE",
            "_org": client["_org"],
            "_fields": [],
        }
        return public(self.put("connections", doc))

    def update_connection(self, connection_id: str, body: Any) -> dict[str, Any]:
        doc = self.get_connection(connection_id)
        fields = self._connection_fields(require_object(body, "update data connection"))
        for key in ("dataSource", "dataType"):
            if fields[key]["id"] != doc[key]["id"]:
                raise bad_request(f"The {key} of a data connection cannot be changed")
        doc.pop("credentialId", None)
        doc.update(fields)
        return public(self.put("connections", doc))

    def delete_connection(self, connection_id: str) -> dict[str, Any]:
        self.get_connection(connection_id)
        self.delete("connections", connection_id)
        return {"success": True}

    def retry_connection(self, connection_id: str) -> dict[str, Any]:
        doc = self.get_connection(connection_id)
        doc["runStatus"] = "SUCCESS"
        self.put("connections", doc)
        return {"success": True}

    def field_configurations(self, connection_id: str) -> list[dict[str, Any]]:
        return list(self.get_connection(connection_id)["_fields"])

    def map_field_configurations(self, connection_id: str, body: Any) -> list[dict[str, Any]]:
        doc = self.get_connection(connection_id)
        items = require_list(body, "map field configurations")
        fields: list[dict[str, Any]] = []
        seen: set[str] = set()
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("fieldName"), str) or not item["fieldName"]:
                raise bad_request(f"field configuration [{index}]: fieldName is required")
            name = item["fieldName"]
            if name in seen:
                raise bad_request(f"field configuration [{index}]: duplicate fieldName '{name}'")
            seen.add(name)
            data_type = item.get("dataType") or "STRING"
            if data_type not in ref.FIELD_DATA_TYPES:
                raise bad_request(f"field '{name}': dataType '{data_type}' is not one of {sorted(ref.FIELD_DATA_TYPES)}")
            identifier = item.get("identifierType") or ""
            if identifier not in IDENTIFIER_TYPES:
                raise bad_request(f"field '{name}': identifierType '{identifier}' is not a known identifier type")
            delimiter = item.get("delimiter") or ""
            if delimiter not in ref.DELIMITERS:
                raise bad_request(f"field '{name}': delimiter '{delimiter}' is not one of {sorted(ref.DELIMITERS)}")
            field: dict[str, Any] = {
                "dataConnectionId": connection_id,
                "id": ref.stable_id("field", f"{connection_id}/{name}"),
                "fieldIndex": int(item.get("fieldIndex", index)),
                "fieldName": name,
                "fieldLabel": str(item.get("fieldLabel") or name),
                "dataType": data_type,
                "identifierType": identifier,
                "delimiter": delimiter,
                "isPii": as_bool(item.get("isPii"), f"{name}.isPii"),
                "isUserIdField": as_bool(item.get("isUserIdField"), f"{name}.isUserIdField"),
                "isExcluded": as_bool(item.get("isExcluded"), f"{name}.isExcluded"),
                "isPartitionColumn": as_bool(item.get("isPartitionColumn"), f"{name}.isPartitionColumn"),
            }
            if isinstance(item.get("partitionFieldConfig"), dict):
                field["partitionFieldConfig"] = item["partitionFieldConfig"]
            fields.append(field)
        doc["_fields"] = sorted(fields, key=lambda f: f["fieldIndex"])
        doc["configStatus"] = "COMPLETE" if fields else "MAPPING_REQUIRED"
        self.put("connections", doc)
        return list(doc["_fields"])

    # -- clean-room datasets ---------------------------------------------------------------------
    def render_dataset(self, doc: dict[str, Any]) -> dict[str, Any]:
        return public(doc)

    def list_datasets(self, room_id: str) -> list[dict[str, Any]]:
        self.must("cleanrooms", room_id, "Cleanroom")
        return [self.render_dataset(d) for d in self.all("datasets") if d["cleanRoomId"] == room_id]

    def get_dataset(self, room_id: str, dataset_id: str) -> dict[str, Any]:
        doc = self.must("datasets", dataset_id, "Cleanroom dataset")
        if doc["cleanRoomId"] != room_id:
            raise not_found("Cleanroom dataset", dataset_id)
        return doc

    def configure_dataset(self, client: dict[str, Any], room_id: str, connection_id: str | None, body: Any) -> dict[str, Any]:
        room = self.must("cleanrooms", room_id, "Cleanroom")
        self.require_open(room, "configure datasets")
        if not connection_id:
            raise bad_request("Required request parameter 'dataConnectionId' is not present")
        connection = self.get_connection(connection_id)
        if not connection["_fields"]:
            raise bad_request(f"Data connection {connection_id} has no field configuration yet: map its fields first")
        if any(d["cleanRoomId"] == room_id and d["dataConnectionId"] == connection_id for d in self.all("datasets")):
            raise bad_request(f"Data connection {connection_id} is already configured in clean room {room_id}")
        options = body if isinstance(body, dict) else {}
        dataset_id = self.new_id()
        doc = {
            "id": dataset_id,
            "name": connection["name"],
            "cleanRoomId": room_id,
            "organizationName": ref.ORG_NAME,
            "dataConnectionType": connection["dataType"]["name"],
            "dataConnectionId": connection_id,
            "stage": "ACTIVE",
            "configurationStatus": "CONFIGURED",
            "datasetFilters": [],
            "datasetParameters": [],
            "partitionParameters": {"isView": False, "partitionGroups": []},
            "isView": False,
            "partnerCanAssign": False,
            "_org": client["_org"],
            "_rampIDConsent": as_bool(options.get("rampIDConsent"), "rampIDConsent"),
        }
        doc["datasetFieldMappings"] = [self._mapping(connection_id, f, None) for f in connection["_fields"]]
        doc["datasetFields"] = self._fields(doc)
        return self.render_dataset(self.put("datasets", doc))

    def _mapping(self, connection_id: str, field: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
        mapping = {
            "dataConnectionId": connection_id,
            "id": field["id"],
            "fieldIndex": field["fieldIndex"],
            "fieldName": field["fieldName"],
            "fieldLabel": field["fieldLabel"],
            "dataType": field["dataType"],
            "delimiter": field.get("delimiter", ""),
            "isPii": field["isPii"],
            "isUserIdField": field["isUserIdField"],
            "isExcluded": field["isExcluded"],
            "rename": "",
            "isPartitionColumn": field["isPartitionColumn"],
        }
        if override:
            mapping["isExcluded"] = override["isExcluded"]
            mapping["rename"] = override["rename"]
            if override.get("transformation"):
                mapping["transformation"] = override["transformation"]
        return mapping

    def _fields(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "datasetId": doc["id"],
                "id": m["id"],
                "name": m["rename"] or m["fieldName"],
                "value": m["fieldName"],
                "type": m["dataType"],
            }
            for m in doc["datasetFieldMappings"]
            if not m["isExcluded"]
        ]

    def update_dataset(self, room_id: str, dataset_id: str, body: Any) -> dict[str, Any]:
        doc = self.get_dataset(room_id, dataset_id)
        body = require_object(body, "update cleanroom dataset")
        connection = self.get("connections", doc["dataConnectionId"])
        source_fields = connection["_fields"] if connection else [
            {**m, "isExcluded": False} for m in doc["datasetFieldMappings"]
        ]
        by_name = {f["fieldName"]: f for f in source_fields}
        overrides: dict[str, dict[str, Any]] = {}
        for index, item in enumerate(body.get("datasetFieldMappings") or []):
            if not isinstance(item, dict):
                raise bad_request(f"datasetFieldMappings[{index}] must be an object")
            for key in ("fieldName", "isExcluded", "rename"):
                if key not in item:
                    raise bad_request(f"datasetFieldMappings[{index}].{key} is required")
            if item["fieldName"] not in by_name:
                raise bad_request(f"datasetFieldMappings[{index}]: unknown field '{item['fieldName']}'")
            overrides[item["fieldName"]] = {
                "isExcluded": as_bool(item["isExcluded"], f"datasetFieldMappings[{index}].isExcluded"),
                "rename": str(item["rename"] or ""),
                "transformation": str(item.get("transformation") or ""),
            }
        doc["datasetFieldMappings"] = [
            self._mapping(doc["dataConnectionId"], f, overrides.get(f["fieldName"])) for f in source_fields
        ]
        doc["datasetFields"] = self._fields(doc)
        names = {f["name"] for f in doc["datasetFields"]} | set(by_name)
        filters = []
        for index, item in enumerate(body.get("datasetFilters") or []):
            if not isinstance(item, dict):
                raise bad_request(f"datasetFilters[{index}] must be an object")
            for key in ("datasetFieldName", "operator", "values"):
                if key not in item:
                    raise bad_request(f"datasetFilters[{index}].{key} is required")
            if item["datasetFieldName"] not in names:
                raise bad_request(f"datasetFilters[{index}]: unknown field '{item['datasetFieldName']}'")
            if item["operator"] not in FILTER_OPERATORS:
                raise bad_request(f"datasetFilters[{index}].operator '{item['operator']}' is not one of {sorted(FILTER_OPERATORS)}")
            if not isinstance(item["values"], list):
                raise bad_request(f"datasetFilters[{index}].values must be an array")
            field_type = next(
                (f["type"] for f in doc["datasetFields"] if f["name"] == item["datasetFieldName"]),
                by_name.get(item["datasetFieldName"], {}).get("dataType", "STRING"),
            )
            filters.append(
                {
                    "datasetId": dataset_id,
                    "id": ref.stable_id("filter", f"{dataset_id}/{index}"),
                    "datasetFieldName": item["datasetFieldName"],
                    "datasetFieldType": field_type,
                    "operator": item["operator"],
                    "values": [str(v) for v in item["values"]],
                }
            )
        doc["datasetFilters"] = filters
        return self.render_dataset(self.put("datasets", doc))

    def partner_assignment(self, room_id: str, body: Any) -> dict[str, Any]:
        self.must("cleanrooms", room_id, "Cleanroom")
        items = require_list(body, "partner assignment")
        docs = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not item.get("datasetId"):
                raise bad_request(f"[{index}].datasetId is required")
            doc = self.get_dataset(room_id, str(item["datasetId"]))
            doc["partnerCanAssign"] = as_bool(item.get("partnerCanAssign"), f"[{index}].partnerCanAssign")
            docs.append(doc)
        for doc in docs:
            self.put("datasets", doc)
        return {"success": True}
