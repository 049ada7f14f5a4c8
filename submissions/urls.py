from django.urls import path

from submissions import views

urlpatterns = [
    path("submissions/", views.my_submissions, name="my_submissions"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission_detail"),
    path("submissions/<int:pk>/cancel/", views.submission_cancel, name="submission_cancel"),
    path("b/<slug:slug>/submit/", views.submission_create, name="submission_create"),
    path("b/<slug:slug>/leaderboard/", views.leaderboard, name="leaderboard"),
]
