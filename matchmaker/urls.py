from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.api import api_not_found
from core.views import healthz

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("matching.matches.api.urls")),
    path("", include("matching.catalogue.api.urls")),
    path("", include("challenges.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("ops.api.urls")),
    # Last: an unknown path or a malformed id is a JSON 404, like every other API error.
    re_path(r"^[\s\S]*$", api_not_found),  # any character, a newline too
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its script as a separate request: the Content-Security-Policy forbids
    # inline script, and the template of our own leaves out the inline style.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("challenges/", include("challenges.urls")),
    path("notifications/", include("notifications.urls")),
    path("ops/", include("ops.urls")),
    path("", include("matching.matches.urls")),
    path("", include("matching.catalogue.urls")),
    path("", include("core.urls")),
]
