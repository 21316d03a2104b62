from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The page for people at GET /: a client of the public API, with no models of its own."""

    name = "dashboard"
