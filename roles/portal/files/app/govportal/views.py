from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import redirect, render

from govportal.forms import ComplaintForm
from govportal.i18n import STRINGS
from govportal.models import Complaint


def agency(request):
    """Template context: which agency this portal belongs to."""
    return {"agency_name": settings.AGENCY_NAME, "agency_slug": settings.AGENCY_SLUG, "t": STRINGS["en"]}


def healthz(request):
    connection.ensure_connection()
    return HttpResponse("ok\n", content_type="text/plain")


def complaint(request):
    if request.method == "POST":
        form = ComplaintForm(request.POST, request.FILES)
        if form.is_valid():
            saved = form.save()
            return redirect(f"/complaints/thanks/?ref={saved.pk}")
    else:
        form = ComplaintForm()
    return render(request, "govportal/complaint_form.html", {"form": form})


def complaint_thanks(request):
    return render(request, "govportal/complaint_thanks.html", {"ref": request.GET.get("ref", "")})


@login_required
def complaints(request):
    return render(request, "govportal/complaints.html", {"complaints": Complaint.objects.all()[:200]})


def refused(request):
    return HttpResponse(f"Sign-in refused: only members of {settings.AGENCY_NAME} may sign in here.\n",
                        status=403, content_type="text/plain")
