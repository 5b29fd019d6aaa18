from django.urls import path

from ops import views

app_name = "ops"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("export/<slug:table>.csv", views.export_csv, name="export-csv"),
    path("export/<slug:table>.xlsx", views.export_xlsx, name="export-xlsx"),
]
