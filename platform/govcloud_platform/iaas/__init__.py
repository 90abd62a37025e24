"""IaaS on OpenStack: the Automation API runner (`runner`), its providers (`providers`) and the offline
plan under Pulumi's mocks (`offline`). Modules import pulumi lazily; importing this package is cheap."""
