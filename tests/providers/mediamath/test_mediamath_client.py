"""Client-side pieces of the mediamath provider that the emulator cannot exercise on its own.

Covers: the error-message function (vendor words from XML and JSON bodies, field errors, a
gateway's HTML page, and every credential scrubbed even if a server echoes it back); the create
values (campaigns and strategies paused unless ``status`` is set; other kinds get no default);
the ``rate_limit`` option forms; ``api_key`` travelling as a session query parameter while
``repr`` of the client and provider config show only the endpoint.
"""

from __future__ import annotations

import pytest
import requests

from reconciler.errors import WorkspaceError
from reconciler.providers.base import ProviderConfig
from reconciler.providers.mediamath.client import MediaMathClient, make_error_message, scrub
from reconciler.providers.mediamath.kinds import AGENCY, CAMPAIGN, STRATEGY
from reconciler.providers.mediamath.provider import create_values
from reconciler.providers.options import rate_limit

SECRETS = ["pa55-word-x", "api-key-y", "session-z"]


def response(body: bytes, content_type: str, status: int = 400) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body
    r.headers["Content-Type"] = content_type
    r.reason = "Bad Request"
    return r


def test_error_message_carries_the_vendor_words() -> None:
    message = make_error_message(lambda: SECRETS)
    xml = (
        b'<result><error>Validation errors</error><errors><field-error name="name" error="is required"/>'
        b'</errors><status code="invalid">Validation errors</status></result>'
    )
    assert message(response(xml, "text/xml")) == ("Validation errors; name: is required", "invalid")
    conflict = b'<result><status code="conflict">Version Conflict</status></result>'
    assert message(response(conflict, "text/xml; charset=utf-8", 409)) == ("Version Conflict", "conflict")
    body = b'{"errors":[{"code":"rate_limit_exceeded","message":"Too Many Requests"}],"meta":{"status":"error"}}'
    assert message(response(body, "application/json", 429)) == ("Too Many Requests", "error")
    assert message(response(b"<html>\n<h1>Developer Inactive</h1>\n</html>", "text/html", 403)) == (
        "Developer Inactive",
        None,
    )
    assert message(response(b"", "text/plain", 502)) == ("Bad Request", None)


def test_error_message_scrubs_every_secret() -> None:
    message = make_error_message(lambda: SECRETS)
    echo = (
        b'<result><status code="invalid">bad password pa55-word-x for key api-key-y (session-z)</status></result>'
    )
    text, code = message(response(echo, "text/xml"))
    assert code == "invalid"
    assert text == "bad password *** for key *** (***)"
    assert scrub("ab", ["ab"]) == "ab"  # too short to be a secret worth hiding


def test_campaigns_and_strategies_are_created_paused_unless_set() -> None:
    assert create_values(CAMPAIGN, {"name": "c"})["status"] is False
    assert create_values(STRATEGY, {"name": "s"})["status"] is False
    assert create_values(CAMPAIGN, {"name": "c", "status": True})["status"] is True
    assert "status" not in create_values(AGENCY, {"name": "a"})


def _rate_option(value: object) -> tuple[float, float]:
    options = {} if value is None else {"rate_limit": value}
    return rate_limit(ProviderConfig(name="mediamath", endpoint="https://x", options=options), 40.0, 200.0)


def test_rate_limit_option_forms() -> None:
    assert _rate_option(None) == (40.0, 200.0)
    assert _rate_option(40) == (40.0, 200.0)
    assert _rate_option(10) == (10.0, 10.0)
    assert _rate_option({"rate": 5, "burst": 50}) == (5.0, 50.0)
    assert _rate_option(0) == (0.0, 1.0)
    with pytest.raises(WorkspaceError, match="rate_limit"):
        _rate_option([1, 2])


def test_api_key_is_a_query_parameter_and_never_in_repr() -> None:
    client = MediaMathClient(
        "https://api.mediamath.com/", {"username": "u", "password": "pa55-word-x", "api_key": "api-key-y"}
    )
    try:
        assert client.http.session.params == {"api_key": "api-key-y"}
        assert client.http.base_url == "https://api.mediamath.com/api/v2.0"
        assert repr(client) == "MediaMathClient(endpoint='https://api.mediamath.com')"
        config = ProviderConfig("mediamath", "https://api.mediamath.com", credentials={"api_key": "api-key-y"})
        assert "api-key-y" not in repr(config)
    finally:
        client.close()
