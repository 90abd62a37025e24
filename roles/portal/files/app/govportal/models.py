"""The portal's content types (Wagtail pages) and what citizens file through it."""

from django.db import models
from wagtail.fields import RichTextField
from wagtail.models import Page


class HomePage(Page):
    intro = RichTextField(blank=True)
    content_panels = [*Page.content_panels, "intro"]
    subpage_types = ["govportal.NewsPage", "govportal.ContactPage"]


class NewsPage(Page):
    date = models.DateField("published on", null=True, blank=True)
    body = RichTextField(blank=True)
    content_panels = [*Page.content_panels, "date", "body"]
    parent_page_types = ["govportal.HomePage"]


class ContactPage(Page):
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    content_panels = [*Page.content_panels, "address", "phone", "email"]
    parent_page_types = ["govportal.HomePage"]


class Complaint(models.Model):
    KINDS = [("complaint", "Complaint"), ("suggestion", "Suggestion")]
    kind = models.CharField(max_length=20, choices=KINDS, default="complaint")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    subject = models.CharField(max_length=200)
    message = models.TextField()
    attachment = models.FileField(upload_to="complaints/%Y/%m/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
