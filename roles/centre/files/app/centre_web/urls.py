"""Citizen pages under /en/ and /ur/ (i18n_patterns; `/` is redirected by LocaleMiddleware following the
browser's Accept-Language), and the stylesheet and the health URL outside them."""

from django.conf.urls.i18n import i18n_patterns
from django.urls import path

from . import track, views

handler404 = "centre_web.views.not_found"

urlpatterns = [path("centre.css", views.css, name="css"), path("healthz", views.healthz, name="healthz")]
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
)
