from django.urls import path

from benchmarks import api

urlpatterns = [
    path("benchmarks/", api.benchmark_list, name="api-benchmark-list"),
    path("benchmarks/<slug:slug>/", api.benchmark_detail, name="api-benchmark-detail"),
    path(
        "benchmarks/<slug:slug>/tasks/<slug:task>/splits/<slug:split>/inputs",
        api.split_inputs,
        name="api-split-inputs",
    ),
]
