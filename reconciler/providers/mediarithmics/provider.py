"""The ``mediarithmics`` provider: kind ``CleanRoom`` (name, owner organisation, members with purposes).

Workspace block (``providers.mediarithmics`` in ``reconciler.yaml``)::

    endpoint: https://api.mediarithmics.com   # or sandbox
    organisation_id: "1863"    # the organisation whose clean rooms are listed (batched reads)
    writes: enabled            # optional; default: observe-only
    page_size: 500             # optional; max_results per list call
    rate_limit: 10             # optional; requests per second
    ca_bundle: /path/ca.pem    # optional
    credentials: {token: "${env:MICS_API_TOKEN}"}   # sent raw in Authorization (no Bearer)

Reading uses only documented calls: one paged ``GET /v1/clean_rooms?organisation_id=`` for every
managed room that organisation sees, plus ``GET /v1/clean_rooms/{id}`` for any id not listed (or
for all of them when no ``organisation_id`` is set).

Observe-only by default: mediarithmics documents no clean-room writes, so :meth:`manual_steps`
returns, for every needed change, the exact step to take in the mediarithmics console, the plan
shows ``manual`` and apply calls nothing (``create``/``update``/``delete`` refuse with
:class:`ManualActionRequired` and send no request). With ``writes: enabled`` they go through the
sandbox-defined extension endpoints (create, rename, invite, change purposes, archive).

Precondition: a fingerprint (no version in the API) covering the normalised fields and every
membership's status and timestamps including ``last_modified_ts`` (see ``normalize``).

History: the API keeps no change log; :meth:`history` reads the room's memberships'
``created_by``/``last_modified_by``/``archived_by`` (user ids, with their times), so drift and
plan name who last changed each member (``user 2002``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.errors import ManualActionRequired, ProviderError, WorkspaceError
from reconciler.model import HistoryEntry, LiveObject, OnDelete
from reconciler.providers.base import (
    COMMON_OPTIONS,
    KindInfo,
    ManualStep,
    Precondition,
    Provider,
    ProviderConfig,
    load_schema,
)
from reconciler.providers.http import HttpClient
from reconciler.providers.mediarithmics import checks, steps
from reconciler.providers.mediarithmics.client import MediarithmicsClient, error_message
from reconciler.providers.mediarithmics.normalize import (
    KIND,
    OpKind,
    id_sort_key,
    member_ops,
    normalize_spec,
    organisation_id,
    owner_membership,
    room_history,
    room_to_live,
)
from reconciler.providers.options import timeout, tls_verify

DEFAULT_ENDPOINT = "https://api.mediarithmics.com"
DEFAULT_TIMEOUT = 30.0  # seconds per call (``timeout:``)
DEFAULT_PAGE_SIZE = 500
WRITING_ACTIONS = frozenset({"create", "update", "replace", "delete"})


def _spec_schema() -> dict[str, Any]:
    """The kind's spec schema, cut from the manifest-document schema editors use."""
    document = load_schema("mediarithmics/CleanRoom.schema.json")
    defs = document["$defs"]
    return {
        "$schema": document["$schema"],
        "title": "mediarithmics CleanRoom spec",
        **defs["spec"],
        "$defs": defs,
    }


CLEAN_ROOM = KindInfo(
    name=KIND,
    schema=_spec_schema(),
    natural_key=("organisation_id", "name"),
    parent_field="organisation_id",
    immutable_fields=frozenset({"organisation_id"}),
    default_on_delete=OnDelete.ABANDON,
    list_keys={"members": "organisation_id"},
    vendor_fields={"clean_room_organisations": "members", "organisation": "members", "purposes": "members"},
    checks=(checks.members_rules,),
)


def _writes_enabled(value: Any) -> bool:
    if value is None or value is False or value == "disabled":
        return False
    if value is True or value == "enabled":
        return True
    raise WorkspaceError(f"providers.mediarithmics.writes: expected 'enabled' or 'disabled', got {value!r}")


def _split_changes(changes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``changes`` values are desired values, or FieldChange-like objects with before/after."""
    after: dict[str, Any] = {}
    before: dict[str, Any] = {}
    for key, value in changes.items():
        if hasattr(value, "before") and hasattr(value, "after"):
            after[key] = value.after
            before[key] = value.before
        else:
            after[key] = value
    return after, before


class MediarithmicsProvider(Provider):
    name = "mediarithmics"
    kinds = {KIND: CLEAN_ROOM}
    option_names = COMMON_OPTIONS | {"organisation_id", "writes", "page_size", "rate_limit"}
    header_credentials = frozenset({"token"})  # as-is in Authorization

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        options = config.options
        self.writes_enabled = _writes_enabled(options.get("writes"))
        org = options.get("organisation_id")
        try:
            self.organisation_id = None if org is None else organisation_id(org, "organisation_id")
        except ProviderError:
            raise WorkspaceError(
                f"providers.mediarithmics.organisation_id: {org!r} is not an organisation id"
            ) from None
        page_size = options.get("page_size", DEFAULT_PAGE_SIZE)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 10000:
            raise WorkspaceError(f"providers.mediarithmics.page_size: expected 1..10000, got {page_size!r}")
        self.page_size = page_size
        rate = options.get("rate_limit")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0):
            raise WorkspaceError(
                f"providers.mediarithmics.rate_limit: expected a positive number, got {rate!r}"
            )
        self.rate = float(rate) if rate is not None else None
        self.timeout = timeout(config, DEFAULT_TIMEOUT)
        self._client: MediarithmicsClient | None = None
        self._lock = threading.Lock()

    # -- connection --------------------------------------------------------------------------------
    @property
    def client(self) -> MediarithmicsClient:
        with self._lock:
            if self._client is None:
                endpoint = self.config.endpoint or DEFAULT_ENDPOINT
                if endpoint == "sandbox":
                    raise WorkspaceError(
                        "providers.mediarithmics.endpoint: 'sandbox' must be resolved to the embedded sandbox's URL "
                        "before the provider is used"
                    )
                token = self.config.credentials.get("token")
                if not token:
                    raise WorkspaceError(
                        "providers.mediarithmics: no API token configured (credentials 'token', e.g. ${env:MICS_API_TOKEN})"
                    )
                http = HttpClient(
                    endpoint,
                    timeout=self.timeout,
                    verify=tls_verify(self.config),
                    rate=self.rate or 0.0,
                    error_message=error_message,
                    secrets=lambda: (token,),
                )
                self._client = MediarithmicsClient(http, token)
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def request_budget(self) -> float | None:
        return self.rate

    # -- reading -----------------------------------------------------------------------------------
    def read(self, kind: str, remote_ids: Sequence[str]) -> dict[str, LiveObject]:
        self._check_kind(kind)
        wanted = list(dict.fromkeys(str(i) for i in remote_ids))
        found: dict[str, LiveObject] = {}
        if wanted and self.organisation_id:
            wanted_set = set(wanted)
            for room in self.client.list_clean_rooms(self.organisation_id, self.page_size):
                room_id = str(room.get("clean_room_id"))
                if room_id in wanted_set:
                    found[room_id] = room_to_live(room)
        for room_id in wanted:
            if room_id not in found:
                single = self.client.get_clean_room(room_id)
                if single is not None:
                    found[room_id] = room_to_live(single)
        return {room_id: found[room_id] for room_id in sorted(found, key=id_sort_key)}

    def list_children(self, kind: str, parent_id: str | None) -> list[LiveObject]:
        """Rooms owned by ``parent_id`` (an organisation), or every room the configured one sees."""
        self._check_kind(kind)
        org = parent_id or self.organisation_id
        if not org:
            raise ProviderError(
                "mediarithmics: listing clean rooms needs providers.mediarithmics.organisation_id"
            )
        rooms = self.client.list_clean_rooms(str(org), self.page_size)
        if parent_id:
            rooms = [r for r in rooms if str(r.get("organisation_id")) == str(parent_id)]
        lives: list[LiveObject] = [room_to_live(r) for r in rooms]
        return sorted(lives, key=lambda live: id_sort_key(live.remote_id))

    def normalize(self, kind: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        self._check_kind(kind)
        return normalize_spec(spec)

    def history(self, kind: str, remote_id: str) -> list[HistoryEntry]:
        """Who changed the room, from its memberships' ``last_modified_by`` (and ``created_by``,
        ``archived_by``): the API keeps no change log, so this is the newest change per member."""
        self._check_kind(kind)
        room = self.client.get_clean_room(remote_id)
        return room_history(room) if room is not None else []

    def manual_steps(
        self,
        kind: str,
        action: str,
        address: str,
        changes: Mapping[str, Any],
        before: Mapping[str, Any] | None = None,
    ) -> list[ManualStep] | None:
        """None with ``writes: enabled``; otherwise the console steps for the change.

        ``changes`` maps top-level spec fields to desired values (the full spec for a create);
        ``before`` (the live object's normalised fields) makes member steps exact. FieldChange-like
        values (with ``before``/``after``) are accepted too.
        """
        self._check_kind(kind)
        if self.writes_enabled or action not in WRITING_ACTIONS:
            return None
        after, before_from_changes = _split_changes(changes)
        live_before = dict(before) if before is not None else (before_from_changes or None)
        desired = normalize_spec(after)
        if action == "create":
            texts = steps.create_steps(desired)
        elif action == "update":
            texts = steps.update_steps(
                f"managed as {address}", desired, normalize_spec(live_before) if live_before else None
            )
        elif action == "delete":
            texts = steps.delete_steps(f"managed as {address}", live_before)
        else:  # replace
            texts = steps.delete_steps(f"managed as {address}", live_before) + steps.create_steps(desired)
        return [ManualStep(text) for text in texts]

    # -- writing -----------------------------------------------------------------------------------
    def create(self, kind: str, spec: Mapping[str, Any]) -> LiveObject:
        self._check_kind(kind)
        desired = normalize_spec(spec)
        if not self.writes_enabled:
            self._refuse(steps.create_steps(desired))
        owner, name = desired["organisation_id"], desired["name"]
        members = desired.get("members") or []
        if owner not in [m["organisation_id"] for m in members]:
            raise ProviderError(
                f"{KIND} {name!r}: spec.members must list the owner organisation {owner} with its purposes "
                "(its membership is created as the owner's)"
            )
        return room_to_live(self.client.create_clean_room(owner, name, members))

    def update(
        self, kind: str, remote_id: str, changes: Mapping[str, Any], precondition: Precondition
    ) -> LiveObject:
        self._check_kind(kind)
        desired = normalize_spec(_split_changes(changes)[0])
        if not self.writes_enabled:
            self._refuse(steps.update_steps(f"with id {remote_id}", desired, None))
        room = self.client.get_clean_room(remote_id)
        if room is None:
            raise ProviderError(f"mediarithmics: clean room {remote_id} no longer exists")
        live = room_to_live(room)
        if "organisation_id" in desired and desired["organisation_id"] != live.fields["organisation_id"]:
            raise ProviderError(
                f"mediarithmics: clean room {remote_id}: organisation_id cannot change "
                f"({live.fields['organisation_id']} -> {desired['organisation_id']}); it needs a replace"
            )
        ops = member_ops(live.fields["members"], desired["members"]) if "members" in desired else []
        owner = owner_membership(room)
        for op in ops:
            if op.kind is OpKind.ARCHIVE and op.organisation_id == owner:
                raise ProviderError(
                    f"mediarithmics: clean room {remote_id}: the owner organisation {owner} cannot be removed "
                    "from spec.members (its membership cannot be archived)"
                )
        if "name" in desired and desired["name"] != live.fields["name"]:
            self.client.rename_clean_room(remote_id, str(desired["name"]))
        for op in ops:
            if op.kind is OpKind.INVITE:
                self.client.invite(remote_id, op.organisation_id, op.purposes)
            elif op.kind is OpKind.SET_PURPOSES:
                self.client.set_purposes(remote_id, op.organisation_id, op.purposes)
            else:
                self.client.archive_membership(remote_id, op.organisation_id)
        fresh = self.client.get_clean_room(remote_id)
        if fresh is None:
            raise ProviderError(f"mediarithmics: clean room {remote_id} disappeared during the update")
        return room_to_live(fresh)

    def delete(self, kind: str, remote_id: str, precondition: Precondition) -> None:
        self._check_kind(kind)
        if not self.writes_enabled:
            self._refuse(steps.delete_steps(f"with id {remote_id}", None))
        if self.client.get_clean_room(remote_id) is not None:
            self.client.archive_clean_room(remote_id)

    # -- helpers -----------------------------------------------------------------------------------
    def _check_kind(self, kind: str) -> None:
        if kind != KIND:
            raise ProviderError(f"mediarithmics has no kind {kind!r} (known: {KIND})")

    @staticmethod
    def _refuse(texts: list[str]) -> None:
        lines = "\n".join(f"  - {t}" for t in texts)
        raise ManualActionRequired(
            "mediarithmics writes are not enabled (observe-only; set 'writes: enabled' in "
            f"providers.mediarithmics to let reconciler make them); do this by hand:\n{lines}"
        )
