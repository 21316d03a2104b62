"""The page a locked-out admin login gets (django-axes calls it: AXES_LOCKOUT_CALLABLE)."""

from __future__ import annotations

import math

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def login_locked(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """Say why the login is refused, for how long, and how an administrator unlocks it."""
    context = {
        **admin.site.each_context(request),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60),
    }
    return render(request, "admin/login_locked.html", context, status=429)
