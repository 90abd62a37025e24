from django.apps import AppConfig


class GovcloudMayanConfig(AppConfig):
    name = "govcloud_mayan"
    label = "govcloud_mayan"
    verbose_name = "govcloud"
