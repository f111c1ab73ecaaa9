"""boto3 clients (with the emulator's endpoint when the settings name one) and
the few look-ups the bootstrap and the verifier share.

Every AWS failure surfaces as :class:`~tenantdb.errors.ToolkitError` with one
line naming the call and the resource; no secret value is ever put in a
message.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20)

# Keys the AWS RDS rotation functions read (``ssl`` too: true stops its plaintext fallback), the TLS
# mode clients use, and the story's (Story 0.4 AC9, task 6.2). ``uri`` holds no password
# (tenantdb.database.bootstrap.app_secrets says why): a rotation changes ``password`` and nothing else.
SECRET_KEYS: tuple[str, ...] = ("engine", "host", "port", "dbname", "database", "username", "password",
                                "sslmode", "ssl", "options", "uri")

CURRENT, PENDING = "AWSCURRENT", "AWSPENDING"
"""Secrets Manager's staging labels: the value clients read, and a rotation's new value until it is tested."""


def endpoint_answers(url: str, timeout: float = 2.0) -> bool:
    """True when an AWS emulator (moto's server) answers its management API at ``url``."""
    try:
        with urllib.request.urlopen(f"{url}/moto-api/reset-auth", timeout=timeout):
            return True
    except urllib.error.HTTPError:  # GET is refused with 400, which proves moto is there
        return True
    except (urllib.error.URLError, OSError):
        return False


def _get_secret_error(secret_id: str, exc: ClientError) -> str:
    """One line for a failed GetSecretValue: the code, and the fix when it is known (docs/faults.md)."""
    err = exc.response.get("Error", {})
    code, message = err.get("Code", "") or "failed", str(err.get("Message", "")).lower()
    line = f"secretsmanager:GetSecretValue {secret_id}: {code}"
    if "marked for deletion" in message or "marked deleted" in message:  # AWS's wording, moto's
        line += (f"; the secret is scheduled for deletion: restore it (aws secretsmanager restore-secret "
                 f"--secret-id {secret_id}), then rerun")
    return line


def _unreachable(call: str, exc: BaseException) -> str:
    """One line for a transport failure (endpoint down, timeout): botocore's own words, which name
    the endpoint URL and never a request body, and where to look."""
    return (f"{call}: {exc}; check that the AWS endpoint answers (settings aws_endpoint_url, or the "
            "region's endpoint and the network path to it)")


class Aws:
    """Clients for one environment. Cheap to build; clients are created on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        kwargs: dict[str, Any] = {"region_name": settings.region}
        if settings.aws_endpoint_url:
            kwargs["endpoint_url"] = settings.aws_endpoint_url
            # An emulator accepts any credentials; never reach for real ones by accident.
            kwargs.setdefault("aws_access_key_id", os.environ.get("AWS_ACCESS_KEY_ID", "testing"))
            kwargs.setdefault("aws_secret_access_key", os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"))
        self._session = boto3.session.Session()
        self._kwargs = kwargs

    def client(self, service: str) -> Any:
        return self._session.client(service, config=_CONFIG, **self._kwargs)

    @cached_property
    def rds(self) -> Any:
        return self.client("rds")

    @cached_property
    def secrets(self) -> Any:
        return self.client("secretsmanager")

    @cached_property
    def kms(self) -> Any:
        return self.client("kms")

    # ----- look-ups ---------------------------------------------------------
    def instance(self) -> dict[str, Any]:
        """describe_db_instances for the settings' instance identifier."""
        ident = self.settings.instance_identifier
        try:
            found = self.rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "DBInstanceNotFound":
                raise ToolkitError(f"RDS instance {ident} not found in {self.settings.region}; "
                                   f"run `cdktf deploy {self.settings.stack_id}` first") from None
            raise ToolkitError(f"rds:DescribeDBInstances {ident}: {code or exc}") from None
        except BotoCoreError as exc:
            raise ToolkitError(_unreachable(f"rds:DescribeDBInstances {ident}", exc)) from None
        return found[0]

    def secret_json(self, secret_id: str) -> dict[str, Any]:
        """The JSON value of a secret's AWSCURRENT version. Raises ToolkitError when missing or not a JSON object."""
        value = self.current_secret(secret_id)
        if value is None:
            raise ToolkitError(f"secretsmanager:GetSecretValue {secret_id}: ResourceNotFoundException "
                               f"(no {CURRENT} value yet)")
        return value

    def current_secret(self, secret_id: str) -> dict[str, Any] | None:
        """The AWSCURRENT value as a JSON object, or None when it has none yet (Terraform creates it
        empty): one GetSecretValue. The stage is named: a reader never gets another version's value."""
        try:
            raw = self.secrets.get_secret_value(SecretId=secret_id, VersionStage=CURRENT)["SecretString"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                self.describe_secret(secret_id)  # the secret itself missing is an error; say which
                return None
            raise ToolkitError(_get_secret_error(secret_id, exc)) from None
        except BotoCoreError as exc:
            raise ToolkitError(_unreachable(f"secretsmanager:GetSecretValue {secret_id}", exc)) from None
        except KeyError:
            raise ToolkitError(f"secretsmanager:GetSecretValue {secret_id}: no SecretString (a binary secret); "
                               "put a JSON object back") from None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            # docs/faults.md: say the fix; the value itself is never shown.
            raise ToolkitError(f"secret {secret_id}: value is not JSON; put a JSON object back (for the "
                               "connection secret: '{}' and rerun the bootstrap, "
                               "which writes a new password)") from None
        if not isinstance(value, dict):
            raise ToolkitError(f"secret {secret_id}: value is not a JSON object")
        return value

    def secret_has_value(self, secret_id: str) -> bool:
        """True when the secret has a current value (Terraform creates it empty)."""
        return self.current_secret(secret_id) is not None

    def describe_secret(self, secret_id: str) -> dict[str, Any]:
        """DescribeSecret; a missing secret is one line naming the stack to deploy."""
        try:
            return dict(self.secrets.describe_secret(SecretId=secret_id))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                raise ToolkitError(f"secret {secret_id} not found; deploy {self.settings.stack_id} first") from None
            raise ToolkitError(f"secretsmanager:DescribeSecret {secret_id}: {code or 'failed'}") from None
        except BotoCoreError as exc:
            raise ToolkitError(_unreachable(f"secretsmanager:DescribeSecret {secret_id}", exc)) from None

    def put_secret_json(self, secret_id: str, value: dict[str, Any]) -> None:
        """Write a new AWSCURRENT version (the old one becomes AWSPREVIOUS). The value never appears in errors."""
        try:
            self.secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise ToolkitError(f"secretsmanager:PutSecretValue {secret_id}: {code or 'failed'}") from None
        except BotoCoreError as exc:
            raise ToolkitError(_unreachable(f"secretsmanager:PutSecretValue {secret_id}", exc)) from None

    def master_credentials(self, instance: dict[str, Any] | None = None) -> tuple[str, str]:
        """(username, password) from the RDS-managed master secret (MasterUserSecret)."""
        inst = instance or self.instance()
        arn = (inst.get("MasterUserSecret") or {}).get("SecretArn")
        if not arn:
            raise ToolkitError(f"instance {self.settings.instance_identifier} has no RDS-managed master secret; "
                               "deploy with manage_master_user_password or pass --master-dsn")
        value = self.secret_json(arn)
        try:
            return str(value["username"]), str(value["password"])
        except KeyError:
            raise ToolkitError(f"master secret of {self.settings.instance_identifier}: "
                               "missing username or password key") from None


def pending_version(meta: dict[str, Any]) -> str | None:
    """The version a rotation is working on (AWSPENDING on a version that is not AWSCURRENT), if any.

    Secrets Manager's protocol: the function puts the new value as AWSPENDING, sets it on the
    database, tests it, then moves AWSCURRENT to it. AWSPENDING left on the current version
    after that is a finished rotation, not a pending one.
    """
    for version, stages in (meta.get("VersionIdsToStages") or {}).items():
        if PENDING in stages and CURRENT not in stages:
            return str(version)
    return None
