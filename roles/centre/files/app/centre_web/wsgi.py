"""WSGI entry point of one agency's centre."""

import os

from django.core.wsgi import get_wsgi_application

# Ours, whatever the environment says: an operator's (or a test's) DJANGO_SETTINGS_MODULE is another app's.
os.environ["DJANGO_SETTINGS_MODULE"] = "centre_web.settings"
application = get_wsgi_application()
