"""Citizen pages under /en/ and /ur/ (i18n_patterns; `/` is redirected by LocaleMiddleware following the
browser's Accept-Language); the stylesheet, the health URL and the interface for integrations (`/api/`, JSON,
described by `openapi.PATHS`: a test keeps the two the same) outside them."""

from django.conf.urls.i18n import i18n_patterns
from django.urls import path, re_path

from . import api, track, views

handler404 = "centre_web.views.not_found"

urlpatterns = [path("centre.css", views.css, name="css"), path("healthz", views.healthz, name="healthz")]
api_patterns = [
    path("api/openapi.json", api.openapi_json, name="api-openapi"),
    path("api/services", api.services, name="api-services"),
    path("api/applications", api.applications, name="api-applications"),
    path("api/applications/<str:reference>", api.application, name="api-application"),
    path("api/tasks", api.tasks, name="api-tasks"),
    path("api/tasks/<str:taskId>/<str:action>", api.task_action, name="api-task-action"),
]
urlpatterns += api_patterns + [re_path(r"^api/(?P<rest>.*)$", api.unknown, name="api-unknown")]
urlpatterns += i18n_patterns(
    path("", views.services, name="services"),
    path("services/<slug:service_id>/", views.service, name="service"),
    path("services/<slug:service_id>/apply/<slug:question_id>/", views.question, name="question"),
    path("services/<slug:service_id>/check/", views.check, name="check"),
    path("services/<slug:service_id>/sent/", views.done, name="done"),
    path("services/<slug:service_id>/saved/", views.saved, name="saved"),
    path("resume/<str:token>/", views.resume, name="resume"),
    path("track/", track.track, name="track"),
    path("track/status/", track.status, name="status"),
    path("track/status/rate/", track.rate, name="status-rate"),
    path("track/status/reopen/", track.reopen, name="status-reopen"),
)
