from django.urls import path

from analysis.views import AnalysisApi

urlpatterns = [
    path("analysis", AnalysisApi.as_view(), name="analysis"),
]
