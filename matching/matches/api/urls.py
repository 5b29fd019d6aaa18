from django.urls import path

from matching.matches.api import views as match_views

urlpatterns = [
    path("needs/<uuid:uuid>/matches/", match_views.NeedMatchesApi.as_view(), name="need-matches"),
    path(
        "results/<uuid:uuid>/matches/",
        match_views.ResultMatchesApi.as_view(),
        name="result-matches",
    ),
    path("match/", match_views.AdHocMatchApi.as_view(), name="match"),
    path(
        "matches/<int:pk>/feedback/", match_views.MatchFeedbackApi.as_view(), name="match-feedback"
    ),
]
