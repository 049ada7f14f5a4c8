from django.contrib import admin
from django.urls import include, path, re_path

from config.api import route_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("config.api_urls")),
    re_path(r"^api/", route_not_found, name="api-route-not-found"),
    path("", include("submissions.urls")),
    path("", include("benchmarks.urls")),
]
