from django.urls import include, path
from django.views.generic import RedirectView
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from design.views import brand_css
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
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("", include(wagtail_urls)),
]
