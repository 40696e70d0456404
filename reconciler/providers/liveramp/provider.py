"""The ``liveramp`` provider: the LiveRamp Clean Room API (formerly Habu) as eight kinds.

DataConnection, Cleanroom, CleanroomDataset, CleanroomPartner, CleanroomUser, Question,
CleanroomQuestion and QuestionRunSchedule (see ``data``, ``rooms`` and ``questions`` for
their fields, natural keys and quirks). The API has no versions or ETags, so every
``LiveObject.version`` is None and writes are guarded by fingerprints of the normalised live
object (the engine re-reads and compares; updates re-check just before writing).

Workspace settings (``providers.liveramp`` in ``reconciler.yaml``):

- ``endpoint``: the API host, e.g. ``https://api.habu.com`` (``production`` is an alias); the
  workspace resolves ``sandbox`` to the embedded emulator's URL.
- ``credentials``: ``client_id`` and ``client_secret`` (``${env:...}``).
- options: ``token_cache_dir`` (default: env ``RECONCILER_CACHE_DIR``, else the user cache
  directory), ``timeout`` (seconds, default 60), ``ca_bundle``, ``api_user_email`` (the API
  user's login, whose room memberships are never removed; found without it too, see
  :meth:`LiveRampProvider.keep_reason`).

Tokens (2 per 24 h per API client) are shared by every process of the user through
:class:`~reconciler.providers.liveramp.token_cache.TokenCache`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.errors import ProviderError, WorkspaceError
from reconciler.model import LiveObject
from reconciler.providers.base import COMMON_OPTIONS, KindInfo, Precondition, Provider, ProviderConfig
from reconciler.providers.liveramp.client import PRODUCTION, LiveRampClient
from reconciler.providers.liveramp.data import CleanroomDatasetKind, DataConnectionKind
from reconciler.providers.liveramp.kind import Kind
from reconciler.providers.liveramp.questions import (
    CleanroomQuestionKind,
    QuestionKind,
    QuestionRunScheduleKind,
)
from reconciler.providers.liveramp.rooms import CleanroomKind, CleanroomPartnerKind, CleanroomUserKind
from reconciler.providers.liveramp.token_cache import TokenCache, default_cache_dir
from reconciler.providers.options import timeout, tls_verify

KIND_CLASSES: tuple[type[Kind], ...] = (
    DataConnectionKind,
    CleanroomKind,
    CleanroomDatasetKind,
    CleanroomPartnerKind,
    CleanroomUserKind,
    QuestionKind,
    CleanroomQuestionKind,
    QuestionRunScheduleKind,
)


class LiveRampProvider(Provider):
    name = "liveramp"
    kinds: Mapping[str, KindInfo] = {cls.info.name: cls.info for cls in KIND_CLASSES}
    option_names = COMMON_OPTIONS | {"token_cache_dir", "api_user_email"}
    header_credentials = frozenset({"client_id", "client_secret"})  # HTTP Basic for the token

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        endpoint = config.endpoint
        if endpoint in ("production", "prod"):
            endpoint = PRODUCTION
        if not endpoint.startswith(("http://", "https://")):
            raise WorkspaceError(f"providers.liveramp.endpoint must be an http(s) URL (or 'production'), not '{config.endpoint}'")
        missing = [k for k in ("client_id", "client_secret") if not config.credentials.get(k)]
        if missing:
            raise WorkspaceError(f"providers.liveramp.credentials: {', '.join(missing)} missing (use ${{env:NAME}})")
        options = config.options
        cache = TokenCache(
            default_cache_dir(options.get("token_cache_dir"), config.workspace_dir),
            config.endpoint_identity or endpoint,
            config.credentials["client_id"],
            config.credentials["client_secret"],
        )
        self.client = LiveRampClient(
            endpoint,
            config.credentials["client_id"],
            config.credentials["client_secret"],
            cache,
            timeout=timeout(config, 60.0),
            verify=tls_verify(config),
        )
        self._kinds = {cls.info.name: cls(self.client) for cls in KIND_CLASSES}

    def __repr__(self) -> str:
        return f"LiveRampProvider(endpoint={self.client.endpoint!r})"

    def kind(self, name: str) -> Kind:
        try:
            return self._kinds[name]
        except KeyError:
            raise ProviderError(f"liveramp has no kind '{name}' (kinds: {', '.join(sorted(self._kinds))})") from None

    # -- reading -------------------------------------------------------------------------------
    def read(self, kind: str, remote_ids: Sequence[str]) -> dict[str, LiveObject]:
        if not remote_ids:
            return {}
        return self.kind(kind).read(list(dict.fromkeys(str(r) for r in remote_ids)))

    def list_children(self, kind: str, parent_id: str | None) -> list[LiveObject]:
        return self.kind(kind).list_children(parent_id)

    def find_existing(self, kind: str, specs: Sequence[Mapping[str, Any]]) -> list[list[LiveObject]]:
        return self.kind(kind).find_all(specs)

    def normalize(self, kind: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        return self.kind(kind).normalize(spec)

    def keep_reason(self, kind: str, live: LiveObject) -> str | None:
        """The API user's own membership of a room is never removed nor demoted: without it the
        API (and reconciler) can no longer act on the room. It is recognised as the user who
        added themselves (the API makes its user the Administrator of every room it creates), or
        by the ``api_user_email`` option."""
        if kind != "CleanroomUser":
            return None
        own = str(self.config.options.get("api_user_email") or "").lower()
        if live.observed.get("self_added") or (own and live.fields.get("email") == own):
            return (f"{live.fields.get('email')} is the API user's own {live.fields.get('role')} membership of "
                    "clean room " f"{live.fields.get('cleanroom_id')}; without it reconciler is locked out of the room")
        return None

    # -- writing -------------------------------------------------------------------------------
    def create(self, kind: str, spec: Mapping[str, Any]) -> LiveObject:
        return self.kind(kind).create(spec)

    def update(self, kind: str, remote_id: str, changes: Mapping[str, Any], precondition: Precondition) -> LiveObject:
        return self.kind(kind).update(remote_id, changes, precondition)

    def delete(self, kind: str, remote_id: str, precondition: Precondition) -> None:
        handler = self.kind(kind)
        if not handler.info.deletable:
            raise ProviderError(f"liveramp {kind} {remote_id} cannot be deleted through the API (it is abandoned instead)")
        handler.remove(remote_id, precondition)

    def close(self) -> None:
        self.client.close()
