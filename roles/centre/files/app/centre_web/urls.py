"""Citizen pages and the staff pages under /en/ and /ur/ (i18n_patterns; `/` and `/staff/` are redirected by
LocaleMiddleware following the browser's Accept-Language; the IdP's callback stays outside, at the one address
registered for the centre's client); the stylesheet, the health URL and the interface for integrations (`/api/`, JSON,
described by `openapi.PATHS`: a test keeps the two the same) outside them, as are the shared design's stylesheet,
`/brand.css` and the agency's logo."""

from design.views import brand_css
from django.conf.urls.i18n import i18n_patterns
from django.urls import path, re_path

from . import (
               api,
               catalogue_pages,
               certificate_staff,
               certificates,
               desk,
               g2g,
               holds,
               notify,
               participation,
               participation_staff,
               pay,
               track,
               uploads,
               views,
)

handler404 = "centre_web.views.not_found"

urlpatterns = [path("centre.css", views.css, name="css"), path("favicon.ico", views.favicon, name="favicon"),
               path("healthz", views.healthz, name="healthz"),
               # the shared design (docs/design.md): its stylesheet, the agency's colour, the agency's logo
               path("static/design/govcloud.min.css", views.design_css, name="design-css"),
               path("brand.css", brand_css, name="brand-css"),
               path("static/brand/<str:name>", views.brand_logo, name="brand-logo")]
api_patterns = [
    path("api/openapi.json", api.openapi_json, name="api-openapi"),
    path("api/services", api.services, name="api-services"),
    path("api/applications", api.applications, name="api-applications"),
    path("api/applications/<str:reference>", api.application, name="api-application"),
    path("api/applications/<str:reference>/certificate/revoke", certificate_staff.revoke,
         name="api-certificate-revoke"),
    path("api/tasks", api.tasks, name="api-tasks"),
    path("api/tasks/<str:taskId>/<str:action>", api.task_action, name="api-task-action"),
    # e-payments (pay.py): bill inquiry, pay/confirm, the provider's notification, the receipts' keys
    path("api/bills/<str:billReference>", pay.inquiry, name="api-bill"),
    path("api/bills/<str:billReference>/payments", pay.confirm, name="api-bill-payments"),
    path("api/payments/notify", pay.notify, name="api-payments-notify"),
    path("api/payments/receipt-keys", pay.receipt_keys, name="api-receipt-keys"),
    path("api/g2g/requests", g2g.requests, name="api-g2g-requests"),  # another agency asks (g2g.py)
]
staff_patterns = [  # the staff pages (desk.py), under the language prefixes as the citizen pages
    path("staff/", desk.inbox, name="staff-inbox"),
    path("staff/signin/", desk.signin, name="staff-signin"),
    path("staff/signout/", desk.signout, name="staff-signout"),
    path("staff/signed-out/", desk.signed_out, name="staff-signed-out"),  # the IdP's post-logout redirect URI
    path("staff/applications/<str:reference>/", desk.file, name="staff-file"),
    path("staff/applications/<str:reference>/comment/", desk.comment, name="staff-comment"),
    path("staff/applications/<str:reference>/hold/", holds.hold, name="staff-hold"),
    path("staff/applications/<str:reference>/certificate/", certificate_staff.certificate, name="staff-certificate"),
    path("staff/applications/<str:reference>/documents/<int:number>/", desk.document, name="staff-document"),
    path("staff/tasks/<str:task_id>/claim/", desk.claim, name="staff-claim"),
    path("staff/tasks/<str:task_id>/assign/", desk.assign, name="staff-assign"),
    path("staff/tasks/<str:task_id>/release/", desk.release, name="staff-release"),
    path("staff/tasks/<str:task_id>/act/", desk.act, name="staff-act"),
    path("staff/payments/", pay.counter, name="staff-payments"),
    path("staff/payments/report.csv", pay.report_csv, name="staff-payments-report"),
    # the catalogue, for its managers (catalogue_pages.py)
    path("staff/catalogue/", catalogue_pages.overview, name="staff-catalogue"),
    path("staff/catalogue/download/", catalogue_pages.download, name="staff-catalogue-download"),
    path("staff/catalogue/upload/", catalogue_pages.upload, name="staff-catalogue-upload"),
    path("staff/catalogue/install/", catalogue_pages.confirm, name="staff-catalogue-install"),
    path("staff/catalogue/services/<slug:service_id>/", catalogue_pages.edit, name="staff-catalogue-edit"),
    *participation_staff.patterns(),  # e-participation's moderation (participation_staff.py)
]
urlpatterns += [path("oidc/callback/", desk.callback, name="staff-callback")]  # the redirect URI registered
urlpatterns += api_patterns + [re_path(r"^api/(?P<rest>.*)$", api.unknown, name="api-unknown")]
urlpatterns += i18n_patterns(
    *staff_patterns,
    path("", views.services, name="services"),
    path("services/<slug:service_id>/", views.service, name="service"),
    path("services/<slug:service_id>/apply/<slug:question_id>/", views.question, name="question"),
    path("services/<slug:service_id>/documents/<slug:document_id>/", uploads.document_page, name="document"),
    path("services/<slug:service_id>/check/", views.check, name="check"),
    path("services/<slug:service_id>/sent/", views.done, name="done"),
    path("services/<slug:service_id>/saved/", views.saved, name="saved"),
    path("resume/<str:token>/", views.resume, name="resume"),
    path("track/", track.track, name="track"),
    path("track/status/", track.status, name="status"),
    path("track/status/document/", track.provide, name="provide"),
    path("track/status/rate/", track.rate, name="status-rate"),
    path("track/status/reopen/", track.reopen, name="status-reopen"),
    path("track/code/", notify.send_code, name="send-code"),  # "send me a code" (notify.py)
    path("verify/<str:certificate_id>", certificates.verify, name="verify"),  # the QR code's page (certificates.py)
    path("certificate/<str:reference>", certificates.download, name="certificate"),
    path("track/status/pay/", pay.start, name="pay-start"),  # e-payments (pay.py)
    path("payments/<str:bill_ref>/return/", pay.returned, name="pay-return"),
    path("receipts/<str:bill_ref>/", pay.receipt, name="receipt"),
    *participation.patterns(),  # e-participation (participation.py)
)
