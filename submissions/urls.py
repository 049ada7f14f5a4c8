from django.urls import path

from submissions import aggregate_views, task_type_views, team_views, views

urlpatterns = [
    path("submissions/", views.my_submissions, name="my_submissions"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission_detail"),
    path("submissions/<int:pk>/progress/", views.submission_progress, name="submission_progress"),
    path("submissions/<int:pk>/cancel/", views.submission_cancel, name="submission_cancel"),
    path("submissions/<int:pk>/privacy/", views.submission_privacy, name="submission_privacy"),
    path("b/<slug:slug>/submit/", views.submission_create, name="submission_create"),
    path("b/<slug:slug>/team/", team_views.team, name="team"),
    path("submissions/<int:pk>/final/", team_views.submission_final, name="submission_final"),
    path("b/<slug:slug>/leaderboard/", views.leaderboard, name="leaderboard"),
    path("b/<slug:slug>/overall/", aggregate_views.overall_board, name="overall_board"),
    path(
        "b/<slug:slug>/leaderboard/export.<str:fmt>",
        views.leaderboard_export,
        name="leaderboard_export",
    ),
    path("submissions/<int:pk>/errors/", views.submission_errors, name="submission_errors"),
    path(
        "submissions/<int:pk>/errors/image/",
        views.submission_example_image,
        name="submission_example_image",
    ),
    path("b/<slug:slug>/compare/", views.benchmark_compare, name="benchmark_compare"),
    path("tasks/", task_type_views.task_type_list, name="task_type_list"),
    path("tasks/<slug:task_type>/best/", task_type_views.task_type_best, name="task_type_best"),
]
