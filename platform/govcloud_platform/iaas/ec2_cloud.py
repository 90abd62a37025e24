"""What govcloud itself asks an EC2-compatible cloud (boto3, the cloud's endpoints from `platform.ec2`) before
Pulumi runs on the `ec2` target: the availability zones, machine images and instance types the spec names exist
(`check`; an image missing by id is looked up by name, so the message can say which id to use), and the
operator's key pair is imported once (`import_operator_key`). `prepare` does both and is what the runner calls
before `preview` and `up`. Credentials: the AWS_* variables or `platform.ec2.profile`, as for the provider.

`check` and `lookup_image` decide from the cloud's answers and change nothing; only `import_operator_key`
writes (one key pair, never replaced)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from govcloud_platform.errors import InputError, OperationFailed

if TYPE_CHECKING:
    from govcloud_platform.spec import Spec
    from govcloud_platform.spec.ec2 import Ec2Settings


def client(settings: Ec2Settings, service: str = "ec2") -> Any:
    """A boto3 client of the cloud's `service` endpoint (ec2, s3, iam, sts)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(profile_name=settings.profile) if settings.profile else boto3.session.Session()
    make: Any = session.client  # the service is a runtime name: boto3-stubs' overloads want a literal
    return make(
        service, endpoint_url=getattr(settings.endpoints, service), region_name=settings.region,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=10, read_timeout=30,
                      s3={"addressing_style": "path" if settings.s3_use_path_style else "auto"}),
    )


def lookup_image(ec2: Any, name: str) -> str | None:
    """The id of the newest available image called `name`, or None."""
    images = ec2.describe_images(Filters=[{"Name": "name", "Values": [name]},
                                          {"Name": "state", "Values": ["available"]}]).get("Images", [])
    if not images:
        return None
    newest = max(images, key=lambda i: (i.get("CreationDate") or "", i["ImageId"]))
    return str(newest["ImageId"])


def _missing_images(ec2: Any, ids: list[str]) -> set[str]:
    from botocore.exceptions import ClientError

    missing: set[str] = set()
    for image_id in ids:  # one by one: a single unknown id fails the whole DescribeImages call
        try:
            found = ec2.describe_images(ImageIds=[image_id]).get("Images", [])
        except ClientError as exc:
            if "NotFound" not in exc.response.get("Error", {}).get("Code", "") and "Malformed" not in str(exc):
                raise
            found = []
        if not any(i.get("ImageId") == image_id and i.get("State", "available") == "available" for i in found):
            missing.add(image_id)
    return missing


def _known_instance_types(ec2: Any, wanted: list[str]) -> set[str]:
    from botocore.exceptions import ClientError

    known: set[str] = set()
    for instance_type in wanted:
        try:
            answer = ec2.describe_instance_types(InstanceTypes=[instance_type])
        except ClientError:
            continue
        known.update(t["InstanceType"] for t in answer.get("InstanceTypes", []))
    return known


def check(ec2: Any, settings: Ec2Settings) -> list[str]:
    """Problems that would make `up` fail half-way, each one line naming the spec key to fix; [] when none."""
    problems: list[str] = []
    zones = {z["ZoneName"] for z in ec2.describe_availability_zones().get("AvailabilityZones", [])}
    for zone in sorted({settings.zone, *settings.allowed_availability_zones}):
        if zone not in zones:
            problems.append(f"platform.ec2: availability zone {zone!r} does not exist in region "
                            f"{settings.region!r} (the cloud has {sorted(zones)})")
    missing = _missing_images(ec2, sorted(set(settings.amis.values())))
    for name, image_id in sorted(settings.amis.items()):
        if image_id in missing:
            by_name = lookup_image(ec2, name)
            hint = f": an image named {name!r} is {by_name}" if by_name else ""
            problems.append(f"platform.ec2.amis.{name}: image {image_id} does not exist or is not available{hint}")
    wanted = sorted(set(settings.instance_types.values()))
    known = _known_instance_types(ec2, wanted)
    for flavor, instance_type in sorted(settings.instance_types.items()):
        if instance_type not in known:
            problems.append(f"platform.ec2.instance_types.{flavor}: instance type {instance_type!r} is not offered "
                            "by the cloud")
    return problems


def import_operator_key(ec2: Any, name: str, public_key: str) -> bool:
    """Import the operator's public key as key pair `name` unless one of that name exists. True if imported."""
    from botocore.exceptions import ClientError

    try:
        if ec2.describe_key_pairs(KeyNames=[name]).get("KeyPairs"):
            return False
    except ClientError as exc:
        if "NotFound" not in exc.response.get("Error", {}).get("Code", ""):
            raise
    try:
        ec2.import_key_pair(KeyName=name, PublicKeyMaterial=public_key.encode())
    except ClientError as exc:
        if "Format" in exc.response.get("Error", {}).get("Code", ""):
            raise InputError(f"platform.ec2.ssh_public_key: the cloud refuses it as an OpenSSH public key "
                             f"({exc.response['Error'].get('Message', '')})",
                             hint="put the operator's real public key there (the default is a placeholder)") from None
        raise
    return True


def prepare(spec: Spec, say: Any = None) -> None:
    """Before `preview`/`up` on the `ec2` target: check the spec against the cloud, import the operator key."""
    from botocore.exceptions import BotoCoreError, ClientError

    from govcloud_stacks.ec2_programs import operator_key_name

    settings = spec.platform.ec2
    try:
        ec2 = client(settings)
        problems = check(ec2, settings)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise InputError(problems[0] + more, hint="fix platform.ec2 in the spec; nothing was created")
        if import_operator_key(ec2, operator_key_name(spec), settings.ssh_public_key) and say is not None:
            say(f"imported key pair {operator_key_name(spec)}")
    except (BotoCoreError, ClientError) as exc:
        raise OperationFailed(f"the EC2 endpoint {settings.endpoints.ec2} refused: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200]}",
                              hint="check platform.ec2.endpoints and the AWS_* credentials") from None
