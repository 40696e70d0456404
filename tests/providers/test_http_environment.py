"""The HTTP client's session reads the environment (proxies, CA bundle) as requests does.

Covers: for proxy variables in both cases, ``NO_PROXY`` matches, ``ALL_PROXY`` and the CA bundle
variables, the settings ``HttpClient``'s session merges are exactly a plain
``requests.Session``'s, on the first call to a host and on later (memoised) ones, for several
hosts and ``verify`` values; explicit proxies bypass the memo.
"""

from __future__ import annotations

import os

import pytest
import requests

from reconciler.providers.http import HttpClient

ENVIRONMENTS = [
    {},
    {"HTTPS_PROXY": "http://proxy.invalid:3128"},
    {"https_proxy": "http://proxy.invalid:3128", "NO_PROXY": "127.0.0.1,.example.com"},
    {"ALL_PROXY": "http://all.invalid:1080", "no_proxy": "api.example.com"},
    {"REQUESTS_CA_BUNDLE": "/etc/ssl/private-ca.pem"},
    {"CURL_CA_BUNDLE": "/etc/ssl/curl-ca.pem", "HTTP_PROXY": "http://proxy.invalid:8080"},
]
URLS = ["http://127.0.0.1:5000/api/v2.0/strategies?q=(1)", "https://api.example.com/v1/cleanrooms", "https://other.test/x"]


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda e: ",".join(sorted(e)) or "none")
def test_merged_settings_equal_requests_own(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name.upper() in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "REQUEST_METHOD"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    plain = requests.Session()
    client = HttpClient("http://127.0.0.1:5000")
    try:
        for url in URLS:
            for verify in (True, False, "/tmp/ca.pem", None):
                for _ in range(2):  # the second call comes from the memo
                    ours = client.session.merge_environment_settings(url, {}, True, verify, None)
                    assert ours == plain.merge_environment_settings(url, {}, True, verify, None)
        explicit = {"https": "http://explicit.invalid:1"}
        ours = client.session.merge_environment_settings(URLS[1], dict(explicit), True, True, None)
        assert ours == plain.merge_environment_settings(URLS[1], dict(explicit), True, True, None)
    finally:
        client.close()
        plain.close()
