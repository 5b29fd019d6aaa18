from django.urls import path

from matching.matches import views as match_views

app_name = "matches"

urlpatterns = [
    path("matches/", match_views.my_matches, name="mine"),
    path("matches/<int:pk>/feedback/", match_views.match_feedback, name="feedback"),
]
