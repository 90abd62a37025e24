"""`govcloud iaas`: Pulumi stacks on OpenStack (placeholder until the IaaS layer lands)."""

import typer

iaas_app = typer.Typer(help="IaaS on OpenStack through Pulumi (openstack target).", no_args_is_help=True)
