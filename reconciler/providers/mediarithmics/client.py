"""HTTP calls of the mediarithmics clean-room API, with its envelope and error shape.

Documented: ``GET /v1/clean_rooms?organisation_id=`` (paged with ``first_result``/``max_results``)
and ``GET /v1/clean_rooms/{id}``. The write calls below exist only in reconciler's sandbox (see
``reconciler.sandbox.mediarithmics.app``); the provider uses them only with ``writes: enabled``.

The API token goes raw in ``Authorization`` (no ``Bearer``). Answers are ``{"status": "ok",
"data": ...}``; errors ``{"status": "error", "error", "error_code", "error_id"}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import requests

from reconciler.errors import NotFoundError, TransportError
from reconciler.providers.http import HttpClient, redact_url

Room = dict[str, Any]


def error_message(response: requests.Response) -> tuple[str, str | None]:
    """The vendor's message and code from a mediarithmics error body (``error``, ``error_code``)."""
    data = response.json()
    if not isinstance(data, Mapping):
        raise ValueError("not a JSON object")
    message = str(data.get("error") or data.get("message") or response.reason or "error")
    error_id = data.get("error_id")
    if error_id:
        message = f"{message} (error_id {error_id})"
    code = data.get("error_code")
    return message, (str(code) if code is not None else None)


class MediarithmicsClient:
    """Thin typed wrapper over :class:`HttpClient` for the clean-room endpoints."""

    def __init__(self, http: HttpClient, token: str) -> None:
        self.http = http
        self.http.session.headers["Authorization"] = token  # raw token, as mediarithmics expects

    # -- documented reads --------------------------------------------------------------------------
    def list_clean_rooms(self, organisation_id: str, page_size: int) -> list[Room]:
        """Every clean room listed for an organisation, following ``first_result`` paging."""
        rooms: list[Room] = []
        first = 0
        while True:
            params = {"organisation_id": organisation_id, "first_result": first, "max_results": page_size}
            body = self._call("GET", "/v1/clean_rooms", params=params)
            page = body.get("data")
            if not isinstance(page, list):
                raise self._shape_error("GET", "/v1/clean_rooms", "'data' is not a list")
            rooms.extend(page)
            total = body.get("total")
            if not page or (isinstance(total, int) and first + len(page) >= total):
                return rooms
            if total is None and len(page) < page_size:  # a non-paginated wrapper
                return rooms
            first += len(page)

    def get_clean_room(self, room_id: str) -> Room | None:
        """One clean room, or None when the API answers 404."""
        try:
            return self._data("GET", f"/v1/clean_rooms/{room_id}")
        except NotFoundError:
            return None

    # -- sandbox extensions ------------------------------------------------------------------------
    def create_clean_room(
        self, organisation_id: str, name: str, members: Sequence[Mapping[str, Any]]
    ) -> Room:
        body = {"organisation_id": organisation_id, "name": name, "clean_room_organisations": list(members)}
        return self._data("POST", "/v1/clean_rooms", json=body)

    def rename_clean_room(self, room_id: str, name: str) -> Room:
        return self._data("PUT", f"/v1/clean_rooms/{room_id}", json={"name": name})

    def archive_clean_room(self, room_id: str) -> None:
        self._call("DELETE", f"/v1/clean_rooms/{room_id}")

    def invite(self, room_id: str, organisation_id: str, purposes: Sequence[str]) -> Room:
        body = {"organisation_id": organisation_id, "purposes": list(purposes)}
        return self._data("POST", f"/v1/clean_rooms/{room_id}/clean_room_organisations", json=body)

    def set_purposes(self, room_id: str, organisation_id: str, purposes: Sequence[str]) -> Room:
        path = f"/v1/clean_rooms/{room_id}/clean_room_organisations/{organisation_id}"
        return self._data("PUT", path, json={"purposes": list(purposes)})

    def archive_membership(self, room_id: str, organisation_id: str) -> Room:
        return self._data("DELETE", f"/v1/clean_rooms/{room_id}/clean_room_organisations/{organisation_id}")

    # -- envelope ----------------------------------------------------------------------------------
    def _data(self, method: str, path: str, **kwargs: Any) -> Room:
        data = self._call(method, path, **kwargs).get("data")
        if not isinstance(data, dict):
            raise self._shape_error(method, path, "'data' is not an object")
        return data

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(method, path, expect=(200,), **kwargs)
        try:
            body = response.json()
        except (ValueError, RecursionError):  # not JSON, or nested too deep to decode
            raise self._shape_error(method, path, "the answer is not JSON") from None
        if not isinstance(body, dict) or body.get("status") != "ok":
            raise self._shape_error(method, path, "the answer is not a {status: ok} wrapper")
        return body

    def _shape_error(self, method: str, path: str, what: str) -> TransportError:
        return TransportError(
            f"unexpected answer: {what}", method=method, url=redact_url(self.http.url(path))
        )

    def close(self) -> None:
        self.http.close()
