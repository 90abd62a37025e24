#!/usr/bin/env python3
"""Django's command-line utility for this centre instance (CENTRE_ENV_FILE names its env file)."""
import os
import sys

if __name__ == "__main__":
    # Ours, whatever the environment says: an operator's (or a test's) DJANGO_SETTINGS_MODULE is another app's.
    os.environ["DJANGO_SETTINGS_MODULE"] = "centre_web.settings"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
