from __future__ import annotations

import pytest
from django.test import RequestFactory

from analyzer_project.clients import client_ip

CLIENTS = [
    # (trusted proxies, X-Forwarded-For, REMOTE_ADDR) -> the client's address
    (0, None, "203.0.113.7", "203.0.113.7"),
    (0, "198.51.100.1", "203.0.113.7", "203.0.113.7"),  # a forged header is ignored
    (1, None, "10.0.0.2", "10.0.0.2"),  # no header: the connection's address
    (1, "198.51.100.1", "10.0.0.2", "198.51.100.1"),
    (1, "6.6.6.6, 198.51.100.1", "10.0.0.2", "198.51.100.1"),  # the forged entry is left
    (2, "6.6.6.6, 198.51.100.1, 10.0.0.3", "10.0.0.2", "198.51.100.1"),
    (3, "198.51.100.1, 10.0.0.3", "10.0.0.2", "198.51.100.1"),  # fewer hops than proxies
    (1, "2001:db8::1", "10.0.0.2", "2001:db8::1"),
    (1, "not-an-address", "10.0.0.2", "10.0.0.2"),
    (1, "1.2.3.4\r\nX: y", "10.0.0.2", "10.0.0.2"),
]


@pytest.mark.parametrize(("proxies", "forwarded", "remote", "expected"), CLIENTS)
def test_the_client_address_trusts_only_the_configured_proxies(
    settings, proxies, forwarded, remote, expected
):
    settings.TRUSTED_PROXIES = proxies
    headers = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    request = RequestFactory().get("/analysis", REMOTE_ADDR=remote, **headers)
    assert client_ip(request) == expected
