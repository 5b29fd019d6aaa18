from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.center, name="center"),
    path("preferences/", views.preferences, name="preferences"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
