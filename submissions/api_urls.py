from django.urls import path

from submissions import api

urlpatterns = [
    path(
        "benchmarks/<slug:slug>/submissions/",
        api.submission_create,
        name="api-submission-create",
    ),
    path("submissions/<int:submission_id>/", api.submission_detail, name="api-submission-detail"),
    path(
        "submissions/<int:submission_id>/breakdown/",
        api.submission_breakdown,
        name="api-submission-breakdown",
    ),
    path("benchmarks/<slug:slug>/leaderboard/", api.leaderboard, name="api-leaderboard"),
    path("models/evaluate/", api.model_evaluate, name="api-model-evaluate"),
    path(
        "submissions/<int:submission_id>/cancel/",
        api.submission_cancel,
        name="api-submission-cancel",
    ),
]
