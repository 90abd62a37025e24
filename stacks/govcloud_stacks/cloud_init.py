"""What every app VM gets, whatever the cloud: its port behind the proxy and its cloud-init user data. No
provider SDK is imported here (the openstack and ec2 components both use it)."""

from __future__ import annotations

# TCP port each app listens on behind the platform's reverse proxy.
APP_PORTS: dict[str, int] = {"portal": 8000, "opendata": 8001, "documents": 8002, "centre": 8003, "messaging": 8008}


def cloud_init(app: str, agency: str, platform: str, domain: str) -> str:
    """User data: enough for the Ansible role of the app to take over over SSH from the bastion."""
    return (
        "#cloud-config\n"
        f"hostname: {app}-{agency}\n"
        f"fqdn: {app}.{agency}.{domain}\n"
        "package_update: true\n"
        "packages: [python3, python3-venv, cryptsetup]\n"
        "write_files:\n"
        "  - path: /etc/govcloud/app.env\n"
        "    permissions: '0644'\n"
        "    content: |\n"
        f"      GOVCLOUD_PLATFORM={platform}\n"
        f"      GOVCLOUD_AGENCY={agency}\n"
        f"      GOVCLOUD_APP={app}\n"
        f"      GOVCLOUD_APP_PORT={APP_PORTS[app]}\n"
    )
