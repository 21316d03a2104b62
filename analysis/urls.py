from django.urls import path

from analysis import health
from analysis.views import AnalysisApi, SeriesApi, StoredApi

urlpatterns = [
    path("analysis", AnalysisApi.as_view(), name="analysis"),
    path("v1/analysis", AnalysisApi.as_view(), name="v1-analysis"),
    path("v1/analysis/series", SeriesApi.as_view(), name="v1-analysis-series"),
    path("v1/stored", StoredApi.as_view(), name="v1-stored"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
]
