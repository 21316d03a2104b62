"""Admin login lockout (django-axes): per address and username, with a cool-off and an unlock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.core.management import call_command

pytestmark = pytest.mark.django_db

ATTACKER, OTHER = "192.0.2.66", "198.51.100.7"


@pytest.fixture(autouse=True)
def limit(settings) -> int:
    settings.AXES_FAILURE_LIMIT = 3
    return 3


def login(client, password: str, address: str = ATTACKER, username: str = "admin"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def locked_out(client, admin_user, limit: int) -> list[int]:
    return [login(client, "wrong").status_code for _ in range(limit)]


def test_repeated_failures_lock_the_address_and_username_out(client, admin_user, limit):
    assert locked_out(client, admin_user, limit) == [200] * (limit - 1) + [429]
    refused = login(client, "password")  # the right one, while locked
    assert refused.status_code == 429
    assert (
        f"Login locked: {limit} failed attempts for this username from your address.\n"
        "  Try again in 15 minutes"
    ) in refused.content.decode()
    attempt = AccessAttempt.objects.get(ip_address=ATTACKER, username="admin")
    assert attempt.failures_since_start >= limit
    assert AccessFailureLog.objects.filter(ip_address=ATTACKER).count() >= limit


def test_another_address_still_gets_the_form_and_can_log_in(client, admin_user, limit):
    locked_out(client, admin_user, limit)
    form = client.get("/admin/login/", REMOTE_ADDR=OTHER)
    assert form.status_code == 200
    assert b'name="password"' in form.content
    assert login(client, "password", address=OTHER).status_code == 302


def test_other_usernames_from_the_same_address_are_not_locked(client, admin_user, limit):
    locked_out(client, admin_user, limit)
    assert login(client, "wrong", username="someone-else").status_code == 200


def test_the_lockout_ends_after_the_cool_off(client, admin_user, limit, settings):
    locked_out(client, admin_user, limit)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME
    )
    assert login(client, "password").status_code == 302


@pytest.mark.parametrize(
    "command",
    [
        ("axes_reset_username", "admin"),
        ("axes_reset_ip", ATTACKER),
        ("axes_reset_ip_username", ATTACKER, "admin"),
    ],
)
def test_an_administrator_can_unlock_with_a_command(client, admin_user, limit, command):
    locked_out(client, admin_user, limit)
    call_command(*command, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert login(client, "password").status_code == 302


def test_a_trusted_proxy_s_forwarded_address_is_the_one_locked(client, admin_user, settings):
    settings.TRUSTED_PROXIES = 1

    def via_proxy(password: str, client_address: str):
        return client.post(
            "/admin/login/",
            {"username": "admin", "password": password},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=client_address,
        )

    assert [via_proxy("wrong", ATTACKER).status_code for _ in range(3)][-1] == 429
    assert via_proxy("password", OTHER).status_code == 302
    assert timedelta(0) < settings.AXES_COOLOFF_TIME
