from django.urls import path

from benchmarks import views

urlpatterns = [
    path("", views.benchmark_list, name="benchmark_list"),
    path("b/<slug:slug>/", views.benchmark_detail, name="benchmark_detail"),
    path(
        "b/<slug:slug>/tasks/<slug:task>/splits/<slug:split>/inputs.<str:fmt>",
        views.split_inputs,
        name="split_inputs",
    ),
]
