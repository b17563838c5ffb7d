"""The POI JSON API at /api/poi/ (api.py)."""

from django.urls import path, re_path

from . import api
from .urls import POI_ID

urlpatterns = [
    path("changesets", api.changesets_view, name="api-poi-changesets"),
    path("changesets/<int:pk>", api.changeset_view, name="api-poi-changeset"),
    path("changesets/<int:pk>/approve", api.approve_view, name="api-poi-approve"),
    path("changesets/<int:pk>/reject", api.reject_view, name="api-poi-reject"),
    path("changesets/<int:pk>/merge", api.merge_view, name="api-poi-merge"),
    path("changesets/<int:pk>/apply", api.apply_view, name="api-poi-apply"),
    path("changesets/<int:pk>/revert", api.revert_view, name="api-poi-revert"),
    re_path(rf"^{POI_ID}/history$", api.history_view, name="api-poi-history"),
    path("currency", api.currency_view, name="api-poi-currency"),
]
