from django.urls import path

from submissions import aggregate_views, api, task_type_api, team_api

urlpatterns = [
    path(
        "benchmarks/<slug:slug>/submissions/",
        api.submission_create,
        name="api-submission-create",
    ),
    path("submissions/", api.submission_list, name="api-submission-list"),
    path("benchmarks/<slug:slug>/team/", team_api.team, name="api-team"),
    path("benchmarks/<slug:slug>/team/invitations/", team_api.team_invite, name="api-team-invite"),
    path("benchmarks/<slug:slug>/team/leave/", team_api.team_leave, name="api-team-leave"),
    path(
        "team-invitations/<int:invitation_id>/",
        team_api.invitation_answer,
        name="api-team-invitation-answer",
    ),
    path(
        "submissions/<int:submission_id>/final/",
        team_api.submission_final,
        name="api-submission-final",
    ),
    path("submissions/<int:submission_id>/", api.submission_detail, name="api-submission-detail"),
    path(
        "submissions/<int:submission_id>/breakdown/",
        api.submission_breakdown,
        name="api-submission-breakdown",
    ),
    path("benchmarks/<slug:slug>/leaderboard/", api.leaderboard, name="api-leaderboard"),
    path(
        "benchmarks/<slug:slug>/overall/",
        aggregate_views.overall_board_api,
        name="api-overall-board",
    ),
    path(
        "benchmarks/<slug:slug>/leaderboard/history/",
        api.leaderboard_history,
        name="api-leaderboard-history",
    ),
    path(
        "benchmarks/<slug:slug>/leaderboard/export",
        api.leaderboard_export,
        name="api-leaderboard-export",
    ),
    path(
        "submissions/<int:submission_id>/model-index/",
        api.submission_model_index,
        name="api-submission-model-index",
    ),
    path(
        "submissions/<int:submission_id>/examples/",
        api.submission_examples,
        name="api-submission-examples",
    ),
    path("benchmarks/<slug:slug>/compare/", api.benchmark_compare, name="api-benchmark-compare"),
    path("models/evaluate/", api.model_evaluate, name="api-model-evaluate"),
    path("task-types/", task_type_api.task_type_list, name="api-task-type-list"),
    path(
        "task-types/<slug:task_type>/best/",
        task_type_api.task_type_best,
        name="api-task-type-best",
    ),
    path(
        "submissions/<int:submission_id>/privacy/",
        api.submission_privacy,
        name="api-submission-privacy",
    ),
    path(
        "submissions/<int:submission_id>/cancel/",
        api.submission_cancel,
        name="api-submission-cancel",
    ),
]
