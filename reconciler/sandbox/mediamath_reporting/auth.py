"""Bearer tokens for the Reporting API v2 sandbox, and the ``auth.mediamath.com`` emulator.

The Reporting API takes only ``Authorization: Bearer <JWT>`` (seed 002: "Authentication is only
done via JWT tokens. Cookie adama_session is no longer supported"). The sandbox accepts:

- JWTs it issued itself (HS256 with a key kept in the sandbox store, ``iss`` = :data:`ISSUER`):
  signature and ``exp`` are verified;
- any other well-formed JWT (three base64url parts whose first two are JSON objects, ``alg`` set)
  that has not expired: like the vendor's SDK, the sandbox cannot verify Auth0's signatures;
- the opaque bearer tokens the MediaMath v2.0 emulator issues (``/_sandbox/mediamath/token``),
  looked up by SHA-256 in its ``_tokens`` collection, so one token serves both APIs in tests.

:class:`AuthEmulator` stands for ``https://auth.mediamath.com`` (mounted at ``/mediamath-auth``):
``POST /oauth/token`` with the password grant (JSON or form: ``grant_type`` ``password`` or
Auth0's ``password-realm``, ``username``, ``password``, ``audience``, optional ``client_id`` /
``client_secret``, which the sandbox does not check) answers
``{"access_token", "expires_in": 86400, "token_type": "Bearer", "scope"}`` for the management
emulator's users; errors use Auth0's ``{"error", "error_description"}`` shape.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from reconciler.sandbox.base import Emulator, EmulatorError, Store, json_response
from reconciler.sandbox.info import EmulatorInfo, SeedInfo

ISSUER = "https://auth.mediamath.com/"  # as the real tokens say; ``kid`` tells ours apart
KEY_ID = "reconciler-sandbox"
AUDIENCE = "https://api.mediamath.com/"
TOKEN_TTL = 86400
KEY_API = "mediamath-reporting"
PASSWORD_GRANTS = ("password", "http://auth0.com/oauth/grant-type/password-realm")


class TokenRejected(Exception):
    """Why a bearer token is not accepted (the message is safe to show)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def signing_key(store: Store) -> bytes:
    doc = store.get(KEY_API, "_settings", "jwt")
    if doc is None:
        doc = store.put(KEY_API, "_settings", "jwt", {"key": secrets.token_hex(32)})
    return bytes.fromhex(doc["key"])


def issue_jwt(store: Store, user: dict[str, Any], ttl: int = TOKEN_TTL) -> str:
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT", "kid": KEY_ID}
    claims = {
        "iss": ISSUER,
        "sub": f"auth0|{user['id']}",
        "aud": [AUDIENCE],
        "iat": now,
        "exp": now + ttl,
        "scope": "openid",
        "https://api.mediamath.com/user_id": user["id"],
        "https://api.mediamath.com/nickname": user.get("name"),
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(signing_key(store), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def check_bearer(store: Store, authorization: str) -> dict[str, Any]:
    """The token's claims (``{}`` for a management token) or :class:`TokenRejected`."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise TokenRejected("a Bearer token is required")
    record = store.get("mediamath", "_tokens", hashlib.sha256(token.encode()).hexdigest())
    if record is not None:
        if float(record.get("expires", 0)) < time.time():
            raise TokenRejected("token expired")
        return {}
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise TokenRejected("malformed token: a JWT has three base64url parts")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, binascii.Error):
        raise TokenRejected("malformed token: not base64url-encoded JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict) or not header.get("alg"):
        raise TokenRejected("malformed token: bad JWT header or claims")
    if header.get("kid") == KEY_ID:
        expected = hmac.new(signing_key(store), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, signature):
            raise TokenRejected("invalid token signature")
    exp = claims.get("exp")
    if isinstance(exp, (int, float)) and exp < time.time():
        raise TokenRejected("token expired")
    return claims


def find_user(store: Store, username: str, password: str) -> dict[str, Any] | None:
    for user in store.all("mediamath", "users"):
        known = username in (user.get("name"), user.get("email")) and user.get("active", True)
        if known and hmac.compare_digest(str(user.get("password", "")), password):
            return user
    return None


class AuthEmulator(Emulator):
    """``auth.mediamath.com``: the OAuth password grant that yields a Reporting API JWT."""

    name = "mediamath-auth"
    mount = "mediamath-auth"
    rules = [Rule("/oauth/token", methods=["POST"], endpoint="token")]

    def describe(self) -> EmulatorInfo:
        return EmulatorInfo(
            self.name, "/mediamath-auth/oauth/token", "MediaMath OAuth (Auth0 password grant) for the Reporting API",
            "https://auth.mediamath.com/oauth/token", (("username", "demo"), ("password", "demo-password")),
            (SeedInfo("default", "the MediaMath emulator's users (any client_id/client_secret)"),),
        )

    def error_response(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response({"error": code, "error_description": message}, status, headers)

    def token(self, request: Request) -> Response:
        data: Any = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        if not isinstance(data, dict):
            raise EmulatorError(400, "invalid_request", "the body must be JSON or a form")
        grant = data.get("grant_type")
        if grant not in PASSWORD_GRANTS:
            raise EmulatorError(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
        username, password = str(data.get("username") or ""), str(data.get("password") or "")
        if not username or not password:
            raise EmulatorError(400, "invalid_request", "Missing required parameter: username and password")
        user = find_user(self.store, username, password)
        if user is None:
            raise EmulatorError(403, "invalid_grant", "Wrong email or password.")
        token = issue_jwt(self.store, user)
        return json_response({"access_token": token, "expires_in": TOKEN_TTL, "token_type": "Bearer",
                              "scope": "openid"}, headers={"Cache-Control": "no-store"})
