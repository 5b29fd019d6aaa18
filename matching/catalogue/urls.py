from django.urls import path

from matching.catalogue import views

app_name = "matching"

urlpatterns = [
    path("needs/", views.need_list, name="need-list"),
    path("needs/export.csv", views.need_export, name="need-export"),
    path("needs/new/", views.need_create, name="need-create"),
    path("needs/quality/", views.need_quality_check, name="need-quality"),
    path("needs/<uuid:uuid>/", views.need_detail, name="need-detail"),
    path("needs/<uuid:uuid>/edit/", views.need_edit, name="need-edit"),
    path("needs/<uuid:uuid>/attachments/", views.need_attachments, name="need-attachments"),
    path("needs/<uuid:uuid>/renew/", views.need_renew, name="need-renew"),
    path(
        "needs/<uuid:uuid>/<slug:action>/",
        views.need_status,
        name="need-status",
    ),
    path(
        "needs/<uuid:uuid>/access/request/",
        views.need_access_request,
        name="need-access-request",
    ),
    path("needs/<uuid:uuid>/access/invite/", views.need_access_invite, name="need-access-invite"),
    path("access/<int:pk>/decide/", views.need_access_decide, name="need-access-decide"),
    path("results/", views.result_list, name="result-list"),
    path("results/new/", views.result_create, name="result-create"),
    path("results/quality/", views.result_quality_check, name="result-quality"),
    path("results/<uuid:uuid>/", views.result_detail, name="result-detail"),
    path("results/<uuid:uuid>/edit/", views.result_edit, name="result-edit"),
    path("results/<uuid:uuid>/attachments/", views.result_attachments, name="result-attachments"),
    path("results/<uuid:uuid>/renew/", views.result_renew, name="result-renew"),
    path("results/<uuid:uuid>/<slug:action>/", views.result_status, name="result-status"),
    path("capabilities/new/", views.capability_create, name="capability-create"),
    path("capabilities/<uuid:uuid>/", views.capability_detail, name="capability-detail"),
    path("capabilities/<uuid:uuid>/edit/", views.capability_edit, name="capability-edit"),
    path("capabilities/<uuid:uuid>/delete/", views.capability_delete, name="capability-delete"),
    path("attachments/<uuid:uuid>/", views.attachment_download, name="attachment-download"),
    path("attachments/<uuid:uuid>/delete/", views.attachment_delete, name="attachment-delete"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
