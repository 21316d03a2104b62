from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("analysis.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "analysis.exceptions.not_found"
handler500 = "analysis.exceptions.server_error"
