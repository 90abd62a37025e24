"""Class "s3": agency B (`sec-intruder`) with its own keys, and a citizen without any, against agency A's
(`sec-victim`) bucket through every API family of the S3 endpoint: objects, multipart, copy (A's object as the
SOURCE into B's own bucket: copy often checks only the destination), rename, presigned URLs and forms, SigV2,
path traversal from B's own bucket, bucket sub-resources (policy, ACL, tagging, lifecycle, versioning, CORS,
encryption, object lock, public access block, ownership), bucket creation and deletion, S3 Tables, and the
IAM/STS APIs on the S3 port. Every attempt is also checked for side effects on A's bucket.

Positive control: A performs the same request on its own bucket, and it must succeed where the platform grants
it (Read, Write, List, Tagging on its bucket) and be refused where it does not: an agency cannot make its
bucket public (policy, ACL), lock its objects, delete its bucket or create another. Those refusals are
attacks too and are recorded in the matrix as `owner: ...`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from govcloud_platform.names import bucket as bucket_of
from tests.security.conftest import INTRUDER, VICTIM
from tests.security.matrix import attack
from tests.security.s3_kit import (
    BLOCK,
    CORS,
    DENIED,
    EMPTY,
    LIFECYCLE,
    LOCK,
    OWN_KEY,
    RETAIN,
    SSE,
    TAGS,
    WEB_TOKEN,
    Caller,
    Refused,
    Row,
    Target,
    delete_objects,
    form,
    head_oracle,
    presigned_post,
    public_policy,
    stolen_key,
    table_arn,
    tables,
    traversal,
    upload_part_copy,
)

pytestmark = pytest.mark.integration

ROWS = [
    # --- objects
    Row("GetObject", lambda c, t: c.s3.get_object(Bucket=t.bucket, Key=t.key)["Body"].read(), True, True),
    Row("HeadObject", lambda c, t: c.s3.head_object(Bucket=t.bucket, Key=t.key), True, True),
    Row("GetObjectAttributes", lambda c, t: c.s3.get_object_attributes(
        Bucket=t.bucket, Key=t.key, ObjectAttributes=["ETag", "ObjectSize"]), True),
    Row("PutObject over A's object", lambda c, t: c.s3.put_object(Bucket=t.bucket, Key=t.key, Body=b"x"), True, True),
    Row("PutObject of a new key", lambda c, t: c.s3.put_object(Bucket=t.bucket, Key=t.key + ".new", Body=b"x"),
        True, True),
    Row("DeleteObject", lambda c, t: c.s3.delete_object(Bucket=t.bucket, Key=t.key), True, True),
    Row("DeleteObjects", delete_objects, True, True),
    Row("ListObjects (V1)", lambda c, t: c.s3.list_objects(Bucket=t.bucket), True, True),
    Row("ListObjectsV2", lambda c, t: c.s3.list_objects_v2(Bucket=t.bucket), True, True),
    Row("ListObjectVersions", lambda c, t: c.s3.list_object_versions(Bucket=t.bucket), True, True),
    # --- multipart
    Row("ListMultipartUploads", lambda c, t: c.s3.list_multipart_uploads(Bucket=t.bucket), True, True),
    Row("ListParts of A's upload", lambda c, t: c.s3.list_parts(Bucket=t.bucket, Key=t.upload_key,
                                                                UploadId=t.upload), True),
    Row("CreateMultipartUpload into A", lambda c, t: c.s3.create_multipart_upload(
        Bucket=t.bucket, Key=t.key + ".mpu2"), True, True),
    Row("UploadPart into A's upload", lambda c, t: c.s3.upload_part(
        Bucket=t.bucket, Key=t.upload_key, UploadId=t.upload, PartNumber=2, Body=b"x"), True),
    Row("CompleteMultipartUpload of A's upload", lambda c, t: c.s3.complete_multipart_upload(
        Bucket=t.bucket, Key=t.upload_key, UploadId=t.upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": t.part_etag}]}), True),
    Row("AbortMultipartUpload of A's upload", lambda c, t: c.s3.abort_multipart_upload(
        Bucket=t.bucket, Key=t.upload_key, UploadId=t.upload), True),
    # --- copy: A's object as the SOURCE into the caller's own bucket, and into A
    Row("UploadPartCopy from A's object into the caller's bucket", upload_part_copy, True),
    Row("CopyObject from A's object into the caller's bucket", lambda c, t: c.s3.copy_object(
        Bucket=c.home, Key=stolen_key(c), CopySource={"Bucket": t.bucket, "Key": t.key}), True),
    Row("CopyObject from A's object, source as an encoded path", lambda c, t: c.ok(c.raw(
        "PUT", f"/{c.home}/{stolen_key(c)}", headers={"x-amz-copy-source": f"{t.bucket}%2F{t.key}"})), True),
    Row("CopyObject into A from the caller's own object", lambda c, t: c.s3.copy_object(
        Bucket=t.bucket, Key=t.key + ".copied", CopySource={"Bucket": c.home, "Key": OWN_KEY}), True),
    Row("RenameObject (SeaweedFS) of A's object", lambda c, t: c.ok(c.raw(
        "PUT", f"/{t.bucket}/{t.key}.renamed?renameObject", headers={"x-amz-rename-source": f"/{t.key}"})), True),
    # --- presigned URLs and forms, the legacy signature
    Row("presigned GET URL", lambda c, t: c.get_url(c.s3.generate_presigned_url(
        "get_object", Params={"Bucket": t.bucket, "Key": t.key})), True),
    Row("presigned PUT URL", lambda c, t: c.put_url(c.s3.generate_presigned_url(
        "put_object", Params={"Bucket": t.bucket, "Key": t.key}), b"x"), True),
    Row("presigned POST form", presigned_post, True),
    Row("SigV2 GetObject", lambda c, t: c.s3v2.get_object(Bucket=t.bucket, Key=t.key)["Body"].read(), True),
    Row("SigV2 presigned GET URL", lambda c, t: c.get_url(c.s3v2.generate_presigned_url(
        "get_object", Params={"Bucket": t.bucket, "Key": t.key})), True),
    # --- path traversal from the caller's own bucket
    Row("GetObject ../A/key in the caller's bucket", lambda c, t: c.s3.get_object(
        Bucket=c.home, Key=traversal(t))["Body"].read(), None),
    Row("PutObject ../A/key in the caller's bucket", lambda c, t: c.s3.put_object(
        Bucket=c.home, Key=traversal(t), Body=b"x"), None),
    Row("DeleteObjects ../A/key in the caller's bucket", lambda c, t: delete_objects(
        c, t, key=traversal(t), bucket=c.home), None),
    Row("CopyObject source own/../A/key", lambda c, t: c.s3.copy_object(
        Bucket=c.home, Key=stolen_key(c), CopySource=f"{c.home}/../{t.bucket}/{t.key}"), None),
    Row("POST form with key ../A/key into the caller's bucket", lambda c, t: presigned_post(
        c, t, key=traversal(t), bucket=c.home), None),
    Row("ListObjectsV2 of the caller's bucket, prefix ../A/", lambda c, t: c.s3.list_objects_v2(
        Bucket=c.home, Prefix=f"../{t.bucket}/"), None, leak=lambda r, t: bool(r.get("KeyCount"))),
    Row("ListObjectsV2 of the caller's bucket, StartAfter ../A/", lambda c, t: c.s3.list_objects_v2(
        Bucket=c.home, StartAfter=f"../{t.bucket}/"), None, leak=lambda r, t: t.listed(r)),
    Row("ListObjectsV2 of the caller's bucket, ContinuationToken ../A/", lambda c, t: c.s3.list_objects_v2(
        Bucket=c.home, ContinuationToken=f"../{t.bucket}/"), None, leak=lambda r, t: t.listed(r)),
    Row("ListObjects (V1) of the caller's bucket, Marker ../A/", lambda c, t: c.s3.list_objects(
        Bucket=c.home, Marker=f"../{t.bucket}/"), None, leak=lambda r, t: t.listed(r)),
    Row("ListObjectVersions of the caller's bucket, KeyMarker ../A/", lambda c, t: c.s3.list_object_versions(
        Bucket=c.home, KeyMarker=f"../{t.bucket}/"), None, leak=lambda r, t: t.listed(r)),
    Row("GetObject in the caller's bucket, versionId ../../A/key", lambda c, t: c.s3.get_object(
        Bucket=c.home, Key=OWN_KEY, VersionId=f"../../{t.bucket}/{t.key}")["Body"].read(), None),
    Row("DeleteObject in the caller's bucket, versionId ../../A/key", lambda c, t: c.s3.delete_object(
        Bucket=c.home, Key=OWN_KEY, VersionId=f"../../{t.bucket}/{t.key}"), None),
    Row("ListParts in the caller's bucket with A's upload id", lambda c, t: c.s3.list_parts(
        Bucket=c.home, Key=t.upload_key, UploadId=t.upload), None, leak=lambda r, t: bool(r.get("Parts"))),
    Row("ListParts with upload id ../../A/.uploads/<A's id>", lambda c, t: c.s3.list_parts(
        Bucket=c.home, Key=t.upload_key, UploadId=f"../../{t.bucket}/.uploads/{t.upload}"), None),
    Row("UploadPart with upload id ../../A/.uploads/<A's id>", lambda c, t: c.s3.upload_part(
        Bucket=c.home, Key=t.upload_key, UploadId=f"../../{t.bucket}/.uploads/{t.upload}", PartNumber=2,
        Body=b"x"), None),
    Row("CompleteMultipartUpload of A's upload id in the caller's bucket", lambda c, t: c.s3.complete_multipart_upload(
        Bucket=c.home, Key=stolen_key(c), UploadId=t.upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": t.part_etag}]}), None),
    # SeaweedFS answers 204 to an abort of an upload it does not hold: what counts is A's upload afterwards
    Row("AbortMultipartUpload of A's upload id in the caller's bucket", lambda c, t: c.s3.abort_multipart_upload(
        Bucket=c.home, Key=t.upload_key, UploadId=t.upload), None, leak=lambda r, t: not t.upload_alive()),
    Row("AbortMultipartUpload with upload id ../../A/.uploads/<A's id>", lambda c, t: c.s3.abort_multipart_upload(
        Bucket=c.home, Key=t.upload_key, UploadId=f"../../{t.bucket}/.uploads/{t.upload}"), None,
        leak=lambda r, t: not t.upload_alive()),
    # a POST form signed for the caller's bucket whose `bucket` field names A: the object lands in the URL's
    Row("POST form for the caller's bucket with a bucket field naming A", lambda c, t: presigned_post(
        c, t, key=t.key + ".field", bucket=c.home, fields={"bucket": t.bucket}), None,
        leak=lambda r, t: t.exists(t.key + ".field")),
    Row("POST form signed for the caller's bucket, sent to A's URL", lambda c, t: presigned_post(
        c, t, key=t.key + ".posted", bucket=c.home, url_bucket=t.bucket), None),
    Row("POST form without a policy or a signature", lambda c, t: c.ok(c.session.post(
        f"{c.endpoint}/{t.bucket}", data={"key": t.key + ".posted"}, files={"file": ("f", b"posted")},
        verify=c.ca_file, timeout=15)), None, True),
    # the path's bucket, spelled otherwise
    Row("GetObject at /A%2Fkey", lambda c, t: c.ok(c.raw("GET", f"/{t.bucket}%2F{t.key}")), None, True),
    Row("GetObject at /./A/key", lambda c, t: c.ok(c.raw("GET", f"/./{t.bucket}/{t.key}")), None, True),
    Row("GetObject at //A/key", lambda c, t: c.ok(c.raw("GET", f"//{t.bucket}/{t.key}")), None, True),
    Row("GetObject at /A-IN-CAPITALS/key", lambda c, t: c.ok(c.raw("GET", f"/{t.bucket.upper()}/{t.key}")),
        None, True),
    Row("GetObject at /own/..;/A/key", lambda c, t: c.ok(c.raw("GET", f"/{c.home}/..;/{t.bucket}/{t.key}")), None),
    # --- buckets
    Row("HeadBucket", lambda c, t: c.s3.head_bucket(Bucket=t.bucket), True, True),
    Row("HeadBucket answers alike for A's and a missing bucket", head_oracle, None, True,
        leak=lambda r, t: r[0] != r[1]),
    Row("GetBucketLocation", lambda c, t: c.s3.get_bucket_location(Bucket=t.bucket), True),
    Row("ListBuckets shows A's bucket", lambda c, t: [b["Name"] for b in c.s3.list_buckets()["Buckets"]], True,
        True, leak=lambda r, t: t.bucket in r),
    Row("CreateBucket named like a future agency's", lambda c, t: c.s3.create_bucket(
        Bucket=bucket_of("sec-future")), False, True),
    Row("CreateBucket named like the caller's own plus a suffix", lambda c, t: c.s3.create_bucket(
        Bucket=f"{c.home}-x"), False),
    Row("DeleteBucket", lambda c, t: c.s3.delete_bucket(Bucket=t.bucket), False, True),
    # --- bucket and object sub-resources
    Row("GetBucketPolicy", lambda c, t: c.s3.get_bucket_policy(Bucket=t.bucket), True),
    Row("PutBucketPolicy public", lambda c, t: c.s3.put_bucket_policy(Bucket=t.bucket, Policy=public_policy(t.bucket)),
        False, True),
    Row("DeleteBucketPolicy", lambda c, t: c.s3.delete_bucket_policy(Bucket=t.bucket), False),
    Row("GetBucketPolicyStatus", lambda c, t: c.s3.get_bucket_policy_status(Bucket=t.bucket), True),
    Row("GetBucketAcl", lambda c, t: c.s3.get_bucket_acl(Bucket=t.bucket), False),
    Row("PutBucketAcl public-read", lambda c, t: c.s3.put_bucket_acl(Bucket=t.bucket, ACL="public-read"),
        False, True),
    Row("GetObjectAcl", lambda c, t: c.s3.get_object_acl(Bucket=t.bucket, Key=t.key), False),
    Row("PutObjectAcl public-read", lambda c, t: c.s3.put_object_acl(Bucket=t.bucket, Key=t.key,
                                                                     ACL="public-read"), False),
    Row("GetBucketTagging", lambda c, t: c.s3.get_bucket_tagging(Bucket=t.bucket), True),
    Row("PutBucketTagging", lambda c, t: c.s3.put_bucket_tagging(Bucket=t.bucket, Tagging=TAGS), True),
    Row("DeleteBucketTagging", lambda c, t: c.s3.delete_bucket_tagging(Bucket=t.bucket), True),
    Row("GetObjectTagging", lambda c, t: c.s3.get_object_tagging(Bucket=t.bucket, Key=t.key), True),
    Row("PutObjectTagging", lambda c, t: c.s3.put_object_tagging(Bucket=t.bucket, Key=t.key, Tagging=TAGS), True),
    Row("DeleteObjectTagging", lambda c, t: c.s3.delete_object_tagging(Bucket=t.bucket, Key=t.key), True),
    Row("GetBucketLifecycle", lambda c, t: c.s3.get_bucket_lifecycle_configuration(Bucket=t.bucket), True),
    Row("PutBucketLifecycle", lambda c, t: c.s3.put_bucket_lifecycle_configuration(
        Bucket=t.bucket, LifecycleConfiguration=LIFECYCLE), True),
    Row("DeleteBucketLifecycle", lambda c, t: c.s3.delete_bucket_lifecycle(Bucket=t.bucket), True),
    Row("GetBucketVersioning", lambda c, t: c.s3.get_bucket_versioning(Bucket=t.bucket), True),
    Row("PutBucketVersioning", lambda c, t: c.s3.put_bucket_versioning(
        Bucket=t.bucket, VersioningConfiguration={"Status": "Suspended"}), True),
    Row("GetBucketCors", lambda c, t: c.s3.get_bucket_cors(Bucket=t.bucket), True),
    Row("PutBucketCors", lambda c, t: c.s3.put_bucket_cors(Bucket=t.bucket, CORSConfiguration=CORS), True),
    Row("DeleteBucketCors", lambda c, t: c.s3.delete_bucket_cors(Bucket=t.bucket), True),
    Row("GetBucketEncryption", lambda c, t: c.s3.get_bucket_encryption(Bucket=t.bucket), False),
    Row("PutBucketEncryption", lambda c, t: c.s3.put_bucket_encryption(
        Bucket=t.bucket, ServerSideEncryptionConfiguration=SSE), False),
    Row("DeleteBucketEncryption", lambda c, t: c.s3.delete_bucket_encryption(Bucket=t.bucket), False),
    Row("GetObjectLockConfiguration", lambda c, t: c.s3.get_object_lock_configuration(Bucket=t.bucket), None),
    Row("PutObjectLockConfiguration", lambda c, t: c.s3.put_object_lock_configuration(
        Bucket=t.bucket, ObjectLockConfiguration=LOCK), False),
    Row("GetObjectRetention", lambda c, t: c.s3.get_object_retention(Bucket=t.bucket, Key=t.key), None),
    Row("PutObjectRetention", lambda c, t: c.s3.put_object_retention(Bucket=t.bucket, Key=t.key,
                                                                     Retention=RETAIN), False),
    Row("PutObjectLegalHold", lambda c, t: c.s3.put_object_legal_hold(Bucket=t.bucket, Key=t.key,
                                                                      LegalHold={"Status": "ON"}), False),
    Row("GetPublicAccessBlock", lambda c, t: c.s3.get_public_access_block(Bucket=t.bucket), False),
    Row("DeletePublicAccessBlock", lambda c, t: c.s3.delete_public_access_block(Bucket=t.bucket), False),
    Row("PutPublicAccessBlock", lambda c, t: c.s3.put_public_access_block(
        Bucket=t.bucket, PublicAccessBlockConfiguration=BLOCK), False),
    Row("PutBucketOwnershipControls", lambda c, t: c.s3.put_bucket_ownership_controls(
        Bucket=t.bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}), False),
    # --- S3 Tables on the same port (on by default; allowed to all without an IAM configuration)
    Row("S3 Tables ListTableBuckets shows a table bucket", lambda c, t: tables(c).list_table_buckets(), None,
        leak=lambda r, t: bool(r.get("tableBuckets"))),
    Row("S3 Tables CreateTableBucket named like A's bucket", lambda c, t: tables(c).create_table_bucket(
        name=t.bucket), False),
    Row("S3 Tables CreateTableBucket named like a future agency's", lambda c, t: tables(c).create_table_bucket(
        name=bucket_of("sec-future")), False),
    Row("S3 Tables GetTableBucket of A", lambda c, t: tables(c).get_table_bucket(tableBucketARN=table_arn(t)), None),
    Row("S3 Tables DeleteTableBucket of A", lambda c, t: tables(c).delete_table_bucket(
        tableBucketARN=table_arn(t)), None),
    Row("S3 Tables PutTableBucketPolicy on A", lambda c, t: tables(c).put_table_bucket_policy(
        tableBucketARN=table_arn(t), resourcePolicy=public_policy(t.bucket)), None),
    Row("S3 Tables CreateNamespace in A", lambda c, t: tables(c).create_namespace(
        tableBucketARN=table_arn(t), namespace=["intruder"]), None),
    # --- IAM and STS on the S3 port (-s3.iam=false)
    Row("STS AssumeRole", form("sts", "AssumeRole", RoleArn="arn:aws:iam::000000000000:role/admin",
                                RoleSessionName="intruder"), False),
    Row("STS AssumeRoleWithWebIdentity", form(
        "sts", "AssumeRoleWithWebIdentity", RoleArn="arn:aws:iam::000000000000:role/admin",
        RoleSessionName="intruder", WebIdentityToken=WEB_TOKEN), False, True),
    Row("STS GetCallerIdentity", form("sts", "GetCallerIdentity"), False),
    Row("STS GetSessionToken", form("sts", "GetSessionToken"), False),
    Row("STS GetFederationToken", form("sts", "GetFederationToken", Name="intruder"), False),
    Row("IAM ListUsers", form("iam", "ListUsers"), False, True),
    Row("IAM CreateAccessKey for A's identity", lambda c, t: form("iam", "CreateAccessKey", UserName=t.bucket)(c, t),
        False, True),
    Row("IAM CreateUser", form("iam", "CreateUser", UserName="intruder"), False),
    Row("IAM PutUserPolicy s3:* on the caller", lambda c, t: form(
        "iam", "PutUserPolicy", UserName=c.home or "anonymous", PolicyName="all",
        PolicyDocument=public_policy("*"))(c, t), False),
]

ATTEMPTS = [pytest.param(who, row, id=f"{who}: {row.name}") for row in ROWS
            for who in ("intruder", "anonymous") if who == "intruder" or row.anonymous]


# --- fixtures: the callers, their own objects, a fresh target per row --------------------------------------
@pytest.fixture(scope="module")
def callers(tenants: dict[str, dict[str, Any]]) -> Iterator[dict[str, Caller]]:
    victim = Caller.agency("victim", tenants[VICTIM]["storage"])
    intruder = Caller.agency("intruder", tenants[INTRUDER]["storage"])
    out = {"victim": victim, "intruder": intruder, "anonymous": Caller.anonymous(victim)}
    for c in (victim, intruder):
        c.s3.put_object(Bucket=c.home, Key=OWN_KEY, Body=f"{c.name}'s own object".encode())
    yield out
    for upload in victim.s3.list_multipart_uploads(Bucket=victim.home).get("Uploads", []):
        victim.s3.abort_multipart_upload(Bucket=victim.home, Key=upload["Key"], UploadId=upload["UploadId"])


@pytest.fixture
def target(callers: dict[str, Caller]) -> Target:
    v = callers["victim"]
    assert v.home is not None
    key, body = f"row/{os.urandom(6).hex()}.txt", b"citizen record " + os.urandom(12).hex().encode()
    v.s3.put_object(Bucket=v.home, Key=key, Body=body)
    upload_key = key + ".mpu"
    upload = v.s3.create_multipart_upload(Bucket=v.home, Key=upload_key)["UploadId"]
    etag = v.s3.upload_part(Bucket=v.home, Key=upload_key, UploadId=upload, PartNumber=1, Body=body)["ETag"]
    return Target(v, v.home, key, body, upload_key, upload, etag)


def _config(call: Callable[[], Any]) -> Any:
    try:
        out = call()
    except ClientError as exc:
        return exc.response["Error"].get("Code")
    out.pop("ResponseMetadata", None)
    return out


def victim_view(v: Caller, t: Target) -> dict[str, Any]:
    """What an attack must leave unchanged, as A itself sees it."""
    s3, b = v.s3, t.bucket
    versions = s3.list_object_versions(Bucket=b)
    return {
        "body": s3.get_object(Bucket=b, Key=t.key)["Body"].read(),
        "objects": sorted((o["Key"], o["ETag"], o.get("VersionId")) for o in versions.get("Versions", [])),
        "markers": sorted(m["Key"] for m in versions.get("DeleteMarkers", [])),
        "uploads": sorted(u["UploadId"] for u in s3.list_multipart_uploads(Bucket=b).get("Uploads", [])),
        "parts": [p["ETag"] for p in s3.list_parts(Bucket=b, Key=t.upload_key, UploadId=t.upload)["Parts"]],
        "object tags": s3.get_object_tagging(Bucket=b, Key=t.key)["TagSet"],
        "bucket tags": _config(lambda: s3.get_bucket_tagging(Bucket=b)),
        "policy": _config(lambda: s3.get_bucket_policy(Bucket=b)),
        "lifecycle": _config(lambda: s3.get_bucket_lifecycle_configuration(Bucket=b)),
        "cors": _config(lambda: s3.get_bucket_cors(Bucket=b)),
        "versioning": s3.get_bucket_versioning(Bucket=b).get("Status"),
        "buckets": sorted(x["Name"] for x in s3.list_buckets()["Buckets"]),
    }


def nothing_stolen(intruder: Caller) -> None:
    assert intruder.home is not None
    assert intruder.s3.list_objects_v2(Bucket=intruder.home, Prefix="stolen/").get("KeyCount", 0) == 0


def run(row: Row, caller: Caller, t: Target) -> tuple[Any, str]:
    """The row's request as `caller`: (answer, "") if the server did it, (None, why) if it refused."""
    try:
        return row.op(caller, t), ""
    except ClientError as exc:
        return None, str(exc.response["Error"].get("Code") or exc.response["ResponseMetadata"]["HTTPStatusCode"])
    except Refused as exc:
        return None, f"HTTP {exc.status}"


# --- the attacks ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("who", "row"), ATTEMPTS)
def test_another_agency_and_a_citizen_get_nothing_of_a_bucket(
    callers: dict[str, Caller], target: Target, who: str, row: Row
) -> None:
    victim, attacker = callers["victim"], callers[who]
    before = victim_view(victim, target)
    with attack("s3", f"{who}: {row.name}", denied=DENIED) as attempt:
        answer = row.op(attacker, target)
        if row.leak is not None:
            attempt.succeeded = row.leak(answer, target)
            attempt.detail = str(answer)[:200]
    assert victim_view(victim, target) == before, "a refused request changed A's bucket"
    nothing_stolen(callers["intruder"])
    if row.owner is False:  # the platform's rule binds the owner too: recorded as an attack of its own
        with attack("s3", f"owner: {row.name} on its own bucket", denied=DENIED):
            row.op(victim, target)
    elif row.owner:  # the positive control: the same request works for A, so the refusal above was a refusal
        answer, refused = run(row, victim, target)
        assert not refused or refused in EMPTY, f"A itself was refused {row.name}: {refused}"
        if row.leak is not None:
            assert row.leak(answer, target), f"A does not see its own bucket in {row.name}"


@pytest.mark.parametrize(("grant", "reader"), [
    ({"ACL": "public-read"}, "anonymous"),
    ({"GrantRead": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'}, "anonymous"),
    ({"GrantRead": f"id={bucket_of(INTRUDER)}"}, "intruder"),
    ({"GrantFullControl": f"id={bucket_of(INTRUDER)}"}, "intruder"),
])
def test_an_acl_the_owner_puts_on_its_object_grants_nobody(
    callers: dict[str, Caller], target: Target, grant: dict[str, str], reader: str
) -> None:
    """PutObject with a canned ACL or grant headers is accepted from the agency (Write), and ignored: open data
    is published through the opendata app, never by a public object."""
    victim = callers["victim"]
    key = target.key + ".granted"
    victim.s3.put_object(Bucket=target.bucket, Key=key, Body=target.body, **grant)
    with attack("s3", f"{reader}: GetObject of an object its owner put with {next(iter(grant.values()))}",
                denied=DENIED):
        callers[reader].s3.get_object(Bucket=target.bucket, Key=key)["Body"].read()
    assert victim.s3.get_object(Bucket=target.bucket, Key=key)["Body"].read() == target.body  # the control
