from django.contrib import admin
from django.urls import include, path, re_path

from config.api import route_not_found
from config.openapi import docs_view, schema_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("config.api_urls")),
    # The OpenAPI schema (YAML, or JSON with ?format=json) and its docs page (docs/api.md).
    path("api/schema/", schema_view, name="schema"),
    path("api/docs/", docs_view, name="api-docs"),
    re_path(r"^api/", route_not_found, name="api-route-not-found"),
    path("", include("submissions.urls")),
    path("", include("benchmarks.urls")),
]
