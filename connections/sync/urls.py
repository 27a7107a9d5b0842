from django.urls import path

from . import views

urlpatterns = [
    path("connections/<int:connection_id>/jobs/live/", views.jobs_live, name="jobs_live"),
    path("connections/<int:connection_id>/jobs/start/", views.job_start, name="job_start"),
    path("connections/<int:connection_id>/jobs/schedule/", views.schedule_save, name="job_schedule"),
    path("connections/<int:connection_id>/jobs/<int:run_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("connections/<int:connection_id>/jobs/<int:run_id>/retry/", views.job_retry, name="job_retry"),
]
