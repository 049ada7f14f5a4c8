from django.urls import include, path

urlpatterns = [
    path("", include("benchmarks.api_urls")),
    path("", include("submissions.api_urls")),
]
