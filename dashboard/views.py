"""GET /: the dashboard. The page reads everything through the public API from the browser;
this view only hands it the choices the API accepts, from their one definition."""

from __future__ import annotations

from django.conf import settings
from django.views.generic import TemplateView

from analysis.percentiles import DEFAULT_PERCENTILES
from ingestion.parser import DIMENSIONS, POST_TYPES

# The windows the page offers, each with its step: 48 to 72 points, a readable chart, and
# the series route's cheapest shapes (whole minutes; step ≥ 1m, at most 1,440 points).
WINDOWS = (("1h", "1m"), ("6h", "10m"), ("24h", "30m"))
# Seconds between refreshes of the health and the chart: the heartbeat's period is 5 s, a
# minute step fills in 60 s; 15 s shows movement without loading the API for nothing.
REFRESH_SECONDS = 15


class DashboardView(TemplateView):
    template_name = "dashboard/index.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["config"] = {
            "windows": [{"duration": d, "step": s} for d, s in WINDOWS],
            "dimensions": list(DIMENSIONS),
            "postTypes": list(POST_TYPES),
            "percentiles": [p.name[1:] for p in DEFAULT_PERCENTILES],
            "liveSeconds": {
                "min": int(settings.ANALYSIS_MIN_DURATION.total_seconds()),
                "max": int(settings.REALTIME_MAX_DURATION.total_seconds()),
            },
            "refreshSeconds": REFRESH_SECONDS,
        }
        return context
