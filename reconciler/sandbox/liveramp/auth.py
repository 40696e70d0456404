"""OAuth client-credentials tokens (reference §1.2).

``POST /v1/oauth/token`` with ``Authorization: Basic base64(id:secret)`` and the form
``grant_type=client_credentials`` answers camelCase ``{accessToken, tokenType, expiresIn,
expiresAt}``. Each client may obtain ``token_limit`` tokens per ``token_window_seconds``
(2 per 24 h, as enforced by LiveRamp since 2025-10-08); more answer 429 without ``Retry-After``.
Tokens are stored by their SHA-256 only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Any

from reconciler.sandbox.liveramp.common import BackendBase, LiveRampError, bad_request, iso
from reconciler.sandbox.liveramp.reference import API_USER_EMAIL, ORG_ID

UNAUTHENTICATED = "Full authentication is required to access this resource"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class AuthMixin(BackendBase):
    def add_client(self, client_id: str, client_secret: str, org_id: str = ORG_ID, user_email: str = API_USER_EMAIL) -> dict[str, Any]:
        if not client_id or not client_secret:
            raise bad_request("client_id and client_secret are required")
        doc = {"id": client_id, "_secret": _hash(client_secret), "_org": org_id, "_user": user_email}
        return self.put("_clients", doc)

    def issue_token(self, authorization: str | None, content_type: str, form: dict[str, str]) -> dict[str, Any]:
        if "json" in content_type.lower():
            raise LiveRampError(415, f"Content-Type '{content_type}' is not supported")
        if not authorization:
            raise bad_request("Missing Authorization header: use HTTP Basic with the client id and secret")
        client_id, secret = _basic_credentials(authorization)
        client = self.get("_clients", client_id)
        if client is None or not hmac.compare_digest(client["_secret"], _hash(secret)):
            raise LiveRampError(401, "Bad credentials")
        if form.get("grant_type") != "client_credentials":
            raise bad_request("grant_type must be client_credentials")
        settings = self.settings()
        if not self.take_budget("token", client_id, int(settings["token_limit"]), float(settings["token_window_seconds"])):
            self.count_event("tokens_refused", client_id)
            raise LiveRampError(
                429,
                f"Token limit exceeded: at most {settings['token_limit']} access tokens per "
                f"{int(settings['token_window_seconds']) // 3600} hours per API client; reuse the token you have",
            )
        lifetime = int(settings["token_lifetime_seconds"])
        token = secrets.token_urlsafe(32)
        expires = self.now() + lifetime
        self.store.put("liveramp", "_tokens", _hash(token), {"client": client_id, "expires": expires})
        self.count_event("tokens_issued", client_id)
        return {"accessToken": token, "tokenType": "Bearer", "expiresIn": lifetime, "expiresAt": iso(expires)}

    def authenticate(self, authorization: str | None) -> dict[str, Any]:
        """The API client behind a ``Bearer`` token, or 401."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise LiveRampError(401, UNAUTHENTICATED)
        token = authorization.split(" ", 1)[1].strip()
        record = self.store.get("liveramp", "_tokens", _hash(token))
        if record is None or record["expires"] <= self.now():
            raise LiveRampError(401, UNAUTHENTICATED)
        client = self.get("_clients", record["client"])
        if client is None:
            raise LiveRampError(401, UNAUTHENTICATED)
        return client

    def token_status(self) -> dict[str, Any]:
        settings = self.settings()
        issued = self.counters()["tokens_issued"]
        return {
            "limit": settings["token_limit"],
            "window_seconds": settings["token_window_seconds"],
            "lifetime_seconds": settings["token_lifetime_seconds"],
            "issued": issued,
            "issued_total": sum(issued.values()),
        }

    def reset_token_budget(self) -> None:
        self.clear_budget("token")


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise LiveRampError(401, "Bad credentials: use HTTP Basic authentication")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise LiveRampError(401, "Bad credentials: malformed Basic authentication") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise LiveRampError(401, "Bad credentials: malformed Basic authentication")
    return client_id, secret
