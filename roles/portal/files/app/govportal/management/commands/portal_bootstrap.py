"""Create the agency's home page and site once; print "changed" only when something was created, so that
the Ansible task can report changed=0 on a second deploy."""

from django.conf import settings
from django.core.management.base import BaseCommand
from wagtail.models import Page, Site

from govportal.models import ContactPage, HomePage


class Command(BaseCommand):
    help = "Create the home page, contact page and site of this agency's portal (idempotent)."

    def handle(self, *args, **options):
        changed = False
        home = HomePage.objects.first()
        if home is None:
            root = Page.get_first_root_node()
            for child in root.get_children():  # Wagtail's "Welcome" page
                if child.specific_class is Page:
                    child.delete()
            home = root.add_child(instance=HomePage(
                title=settings.AGENCY_NAME, slug="home",
                intro=f"<p>Welcome to the online services of {settings.AGENCY_NAME}.</p>"))
            home.add_child(instance=ContactPage(title="Contact", slug="contact",
                                                email=f"contact@{settings.AGENCY_SLUG}.example"))
            changed = True
        elif home.title != settings.AGENCY_NAME:
            home.title = settings.AGENCY_NAME
            home.save_revision().publish()
            changed = True
        host = settings.ALLOWED_HOSTS[0]
        site = Site.objects.filter(is_default_site=True).first()
        if site is None:
            Site.objects.create(hostname=host, port=443, root_page=home, is_default_site=True,
                                site_name=settings.AGENCY_NAME)
            changed = True
        elif site.root_page_id != home.pk or site.hostname != host or site.site_name != settings.AGENCY_NAME:
            site.root_page, site.hostname, site.site_name = home, host, settings.AGENCY_NAME
            site.save()
            changed = True
        self.stdout.write("changed" if changed else "unchanged")
