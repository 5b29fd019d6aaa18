from django.urls import path

from notifications.api import views

urlpatterns = [
    path("notifications/", views.NotificationListApi.as_view(), name="notification-list"),
    path(
        "notifications/preferences/",
        views.PreferenceApi.as_view(),
        name="notification-preferences",
    ),
]
