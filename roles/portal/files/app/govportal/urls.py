from design.views import brand_css
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from govportal import views

urlpatterns = [
    path("healthz", views.healthz),
    path("brand.css", brand_css),  # the agency's colour (docs/design.md)
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("complaints/", views.complaint, name="complaint"),
    path("complaints/thanks/", views.complaint_thanks),
    path("staff/complaints/", views.complaints, name="complaints"),
    path("staff/refused/", views.refused),
    path("contact/", RedirectView.as_view(url="/en/contact/")),  # before /en/ and /ur/
    path("staff/newsletter/", views.staff_newsletter),
    re_path(r"^(?P<lang>en|ur)/newsletter/$", views.newsletter),
    re_path(r"^(?P<lang>en|ur)/newsletter/(?P<action>confirm|unsubscribe)/(?P<token>[A-Za-z0-9_-]{20,64})/$",
            views.newsletter_link),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("", include(wagtail_urls)),
]
