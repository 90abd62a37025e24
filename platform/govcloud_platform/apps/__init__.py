"""SaaS catalogue: e-government apps per agency, deployed by Ansible roles through ansible-runner."""

from govcloud_platform.apps.manifests import CATALOGUE, AppManifest, manifest
from govcloud_platform.apps.service import AppService, DeployResult, converge_apps

__all__ = ["CATALOGUE", "AppManifest", "AppService", "DeployResult", "converge_apps", "manifest"]
