from django.urls import path

from . import views

from django.urls import re_path

urlpatterns = [
    re_path(r"^jobs/(?P<pk>\d+)/(?P<kind>report\.json|rejects\.gpkg)$", views.job_report, name="ingest-job-report"),
    path("", views.job_list, name="ingest-jobs"),
    path("upload/", views.upload, name="ingest-upload"),
    path("jobs/<int:pk>/", views.job_page, name="ingest-job"),
    path("jobs/<int:pk>/status", views.job_status, name="ingest-job-status"),
    path("jobs/<int:pk>/cancel", views.job_cancel, name="ingest-job-cancel"),
    path("jobs/<int:pk>/rollback", views.job_rollback, name="ingest-job-rollback"),
]
