from django.apps import AppConfig


class GovportalConfig(AppConfig):
    name = "govportal"
    default_auto_field = "django.db.models.BigAutoField"
