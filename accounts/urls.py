from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("register/", views.register, name="register"),
    path("confirm/<str:token>/", views.confirm_email, name="confirm"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password-reset-done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password-reset-complete",
    ),
    path("profile/", views.profile, name="profile"),
    path("tokens/", views.api_tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.api_token_revoke, name="token-revoke"),
    path("orgs/new/", views.organization_create, name="org-create"),
    path("orgs/<uuid:uuid>/", views.organization_detail, name="org-detail"),
    path("orgs/<uuid:uuid>/edit/", views.organization_edit, name="org-edit"),
    path("orgs/<uuid:uuid>/members/", views.organization_members, name="org-members"),
    path("orgs/<uuid:uuid>/verify/", views.organization_verify, name="org-verify"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation"),
]
