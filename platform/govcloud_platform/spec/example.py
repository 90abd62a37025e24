"""The commented example spec written by `govcloud init`."""

EXAMPLE_SPEC = """\
# govcloud.yaml: the declarative spec of a GovCloud in a box.
# Validate with `govcloud validate`; `govcloud schema` prints the JSON Schema for editors.
version: 1

platform:
  name: govcloud-demo          # identifier of this platform (tags, stack names)
  domain: gov.example          # apps are published as https://<app>.<agency>.<domain>:<proxy port>
  target: local                # local: the whole box on this machine; openstack: Pulumi provisions VMs
  port_base: 18000             # the box uses 127.0.0.1:<port_base>..<port_base+99> (and +10000 for gRPC)
  services:
    database:
      max_connections: 200
    storage:
      volume_max: 0            # volume slots: 0 = from free disk space; N caps all storage at N x 64 MB
    identity:
      operator_user: operator  # created on first `up`; its password is in the box's secrets
    backups:
      retention_full: 2
      archive_timeout_s: 30    # WAL is archived at least this often: the upper bound of the RPO
      schedule: "0 1 * * 0"    # platform full backup, cron syntax
      diff_schedule: "0 1 * * 1-6"
      agency_schedule: "30 2 * * *"
  openstack:                   # used only when target is openstack
    cloud: govcloud            # entry of clouds.yaml (OS_CLOUD)
    region: RegionOne
    allowed_regions: [RegionOne]
    allowed_availability_zones: [nova]
    external_network: public

# Quota classes: unset limits come from the class named by `inherits`.
quota_classes:
  standard:
    description: default for agencies
    database_connections: 20
    storage_gb: 10
    instances: 4
    cores: 8
    ram_mb: 16384
    volumes: 8
    volume_gb: 200
  large:
    inherits: standard
    database_connections: 50
    storage_gb: 100
    instances: 10
    cores: 24
    ram_mb: 49152

agencies:
  - slug: health
    name: Ministry of Health
    email: it@health.gov.example
    quota: large
    services: [database, storage, identity, backups]
    apps: []                   # e.g. [portal, opendata]
  - slug: revenue
    name: Revenue Board
    email: it@revenue.gov.example
    quota: standard
    backup_schedule: "0 3 * * *"
  - slug: city-council
    name: City Council
    email: it@council.gov.example
    quota: standard
"""
