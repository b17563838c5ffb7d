"""The POI pages at /poi/ (the JSON API is api_urls.py, at /api/poi/)."""

from django.urls import path, re_path

from . import views

# POI ids as validate.ID_RE allows them.
POI_ID = r"(?P<poi_id>[A-Za-z0-9._:\-]{1,64})"

urlpatterns = [
    path("", views.changeset_list, name="poi-changesets"),
    path("submit/", views.submit, name="poi-submit"),
    path("new/", views.poi_new, name="poi-new"),
    path("export", views.export, name="poi-export"),
    path("currency/", views.currency_page, name="poi-currency"),
    path("changesets/<int:pk>/", views.changeset_detail, name="poi-changeset"),
    path("changesets/<int:pk>/approve", views.changeset_decide, {"decision": "approve"}, name="poi-changeset-approve"),
    path("changesets/<int:pk>/reject", views.changeset_decide, {"decision": "reject"}, name="poi-changeset-reject"),
    path("changesets/<int:pk>/merge", views.changeset_merge, name="poi-changeset-merge"),
    path("changesets/<int:pk>/apply", views.changeset_apply, name="poi-changeset-apply"),
    path("changesets/<int:pk>/revert", views.changeset_revert, name="poi-changeset-revert"),
    re_path(rf"^{POI_ID}/edit/$", views.poi_edit, name="poi-edit"),
    re_path(rf"^{POI_ID}/history/$", views.poi_history, name="poi-history"),
]
