from django.urls import path
from rest_framework.routers import SimpleRouter

from matching.catalogue.api import views

router = SimpleRouter()
router.register("needs", views.NeedViewSet, basename="need")
router.register("results", views.ResultViewSet, basename="result")
router.register("capabilities", views.CapabilityViewSet, basename="capability")

urlpatterns = [
    path("needs/export.csv", views.NeedExportApi.as_view(), name="need-export"),
    *router.urls,
]
