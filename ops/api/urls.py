from django.urls import path

from ops.api.views import FunnelView

urlpatterns = [path("ops/funnel/", FunnelView.as_view(), name="ops-funnel")]
