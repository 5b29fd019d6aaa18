from django.urls import path

from accounts.api import views

urlpatterns = [
    path("organizations/", views.MyOrganizationListApi.as_view(), name="organization-list"),
    path(
        "organizations/<uuid:uuid>/",
        views.OrganizationDetailApi.as_view(),
        name="organization-detail",
    ),
    path(
        "organizations/<uuid:uuid>/members/",
        views.OrganizationMembersApi.as_view(),
        name="organization-members",
    ),
]
