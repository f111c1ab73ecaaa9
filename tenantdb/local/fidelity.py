"""The fidelity layer: moto's server with a few named corrections where moto 5.2.5
differs from what the AWS documentation says RDS does.

Run as the emulator process (``python -m tenantdb.local.fidelity -H 127.0.0.1 -p PORT``);
``--plain`` serves unpatched moto, which the tests use to show each difference.

Rules for every correction here:
- it restores behaviour AWS documents (each docstring cites the page);
- it is small and patches one moto function or class attribute;
- it only ever stores and returns what the caller set, or rejects less than moto
  did where AWS accepts: it never makes describe return a value nobody set, so no
  verifier check can pass here that would fail on AWS.

Only this process imports moto; nothing else under tenantdb/ does.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable
from typing import Any

#: Environment the server needs (correction ``managed_iam_policies``).
SERVER_ENV: dict[str, str] = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}


def touching_windows_allowed() -> None:
    """Backup and maintenance windows that only touch do not conflict.

    AWS: PreferredBackupWindow "Must not conflict with the preferred maintenance
    window" (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html);
    RDS accepts 03:00-04:00 with sun:04:00-sun:05:00. moto counts a zero-second
    overlap as a conflict (``>= 0``). This keeps every other moto validation and
    only lifts the overlap verdict when the windows share no minute.
    """
    from moto.rds import models

    original = models.valid_preferred_maintenance_window
    overlap_msg = "The backup window and maintenance window must not overlap."

    def validate(maintenance_window: Any, backup_window: Any) -> str | None:
        msg = original(maintenance_window, backup_window)
        if msg == overlap_msg and not windows_share_a_minute(backup_window, maintenance_window):
            return original(maintenance_window, None)
        return msg

    models.valid_preferred_maintenance_window = validate


def windows_share_a_minute(backup: str, maintenance: str) -> bool:
    """True when the daily backup window and the weekly maintenance window overlap by a minute or more:
    the settings' rule (one arithmetic for both), with AWS's case-insensitive day names."""
    from tenantdb.settings_instance import windows_overlap

    return windows_overlap(backup, maintenance.lower())


_STORED_INSTANCE_FIELDS = (
    "enable_performance_insights",
    "performance_insights_kms_key_id",
    "performance_insights_retention_period",
    "engine_lifecycle_support",
)


def instance_settings_stored() -> None:
    """Performance Insights settings and EngineLifecycleSupport are kept and described.

    AWS: DescribeDBInstances returns PerformanceInsightsEnabled,
    PerformanceInsightsKMSKeyId, PerformanceInsightsRetentionPeriod and
    EngineLifecycleSupport as set by CreateDBInstance/ModifyDBInstance
    (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html).
    moto's DBInstance drops these create arguments, so describe says None and
    every plan shows drift. This keeps exactly the values the caller sent
    (modify already stores them); nothing is defaulted.
    """
    from moto.rds.models import DBInstance

    original_init = DBInstance.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        for name in _STORED_INSTANCE_FIELDS:
            if kwargs.get(name) is not None:
                setattr(self, name, kwargs[name])

    DBInstance.__init__ = init  # type: ignore[method-assign]  # patches moto's class
    # The describe shape names it PerformanceInsightsEnabled; the create/modify argument
    # is EnablePerformanceInsights. One property joins the two names.
    DBInstance.performance_insights_enabled = property(  # type: ignore[attr-defined]  # added to moto's class
        lambda self: self.__dict__.get("enable_performance_insights"))


DEFAULT_CA = "rds-ca-rsa2048-g1"


def default_ca_is_current() -> None:
    """A new instance created without a CA gets RDS's current default, rds-ca-rsa2048-g1.

    AWS: "rds-ca-rsa2048-g1 ... is the default CA for new DB instances" (since
    January 2024; https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html).
    moto still assigns rds-ca-default (the expired rds-ca-2019 era). The AWS
    provider does not send the CA on create; it compares the create response
    with its configuration and, when they differ, modifies the instance and
    waits again (80 s more per apply here, nothing on AWS). An instance created
    with an explicit CA keeps it.
    """
    from moto.rds.models import DBInstance

    original_init = DBInstance.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("ca_certificate_identifier", DEFAULT_CA)
        original_init(self, *args, **kwargs)

    DBInstance.__init__ = init  # type: ignore[method-assign]  # patches moto's class


def master_secret_holds_master_user() -> None:
    """The RDS-managed master secret holds the instance's master username and a generated password.

    AWS: with ManageMasterUserPassword "RDS generates the master user password and
    stores it in Secrets Manager"; the secret's JSON has ``username`` (the master
    username) and ``password``
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html).
    moto writes the fixed pair admin / P@55w0rd! whatever the master username is.
    """
    from moto.rds.models import MasterUserSecret

    def secret_string(self: Any) -> str:
        username = getattr(self.resource, "master_username", None)
        return json.dumps({"username": username, "password": secrets.token_urlsafe(24)})

    MasterUserSecret._generate_secret_string = secret_string  # type: ignore[method-assign]  # patches moto's class


def parameter_source_honoured() -> None:
    """DescribeDBParameters honours its Source filter; parameters set through the API are ``user``.

    AWS: Source "The parameter types to return. Valid Values: user | system |
    engine-default"; parameters changed by ModifyDBParameterGroup have Source
    "user" (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBParameters.html).
    moto returns parameters with no Source and ignores the filter. The AWS
    provider (5.100.0, resourceParameterGroupRead) skips every parameter whose
    Source is missing, so the state loses them and each plan wants to set them
    again. moto has no engine defaults, so ``system`` and ``engine-default``
    return nothing here.
    """
    from moto.core.responses import ActionResult
    from moto.rds.exceptions import DBParameterGroupNotFoundError
    from moto.rds.responses import RDSResponse

    def describe_db_parameters(self: Any) -> Any:
        name = self.params.get("DBParameterGroupName")
        groups = self.backend.describe_db_parameter_groups({"db_parameter_group_name": name})
        if not groups:
            raise DBParameterGroupNotFoundError(name)
        source = self.params.get("Source")
        params = [dict(p, Source="user") for p in groups[0].parameters.values()]
        return ActionResult({"Parameters": params if source in (None, "user") else []})

    RDSResponse.describe_db_parameters = describe_db_parameters  # type: ignore[method-assign]  # patches moto's class


# --- secret rotation (Story 0.4 task 6.3): the rotation function's security group rules ---------
def rule_descriptions_kept() -> None:
    """A security group rule that references another group keeps its description.

    AWS: DescribeSecurityGroupRules returns each rule's ``Description`` as set by
    AuthorizeSecurityGroupIngress/Egress, whatever the rule's source
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SecurityGroupRule.html).
    moto reads the description only from an IP range, so a rule naming a group
    (``UserIdGroupPairs``) loses it and every plan wants to set it again. This
    returns the description the caller sent with the group pair; nothing else.
    """
    from moto.ec2.models.security_groups import SecurityGroupRule

    SecurityGroupRule.description = property(  # type: ignore[method-assign,assignment]  # replaces moto's property
        lambda self: self.ip_range.get("Description") or (self.source_group or {}).get("Description"))


def managed_iam_policies() -> None:
    """AWS managed IAM policies exist (e.g. service-role/AmazonRDSEnhancedMonitoringRole).

    AWS: managed policies are predefined in every account
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html).
    moto loads them only with MOTO_IAM_LOAD_MANAGED_POLICIES=true, which
    :data:`SERVER_ENV` sets for the server process; this checks it is set.
    """
    for key, value in SERVER_ENV.items():
        os.environ.setdefault(key, value)


# --- Secrets Manager: a rotation as AWS runs it (docs/security.md, "Rotation") --------------
CURRENT, PENDING = "AWSCURRENT", "AWSPENDING"


def current_follows_the_label() -> None:
    """A read without a stage returns the version labelled AWSCURRENT, and one version holds that label.

    AWS: GetSecretValue without VersionId or VersionStage "returns the AWSCURRENT version";
    a staging label is attached to one version at a time, and moving AWSCURRENT moves
    AWSPREVIOUS to the version it left
    (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html,
    https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html).
    moto keeps a "default version" of its own that UpdateSecretVersionStage does not move:
    after a rotation's finishSecret a read without a stage returns the old value, and the
    next PutSecretValue demotes that old version, leaving two versions labelled AWSCURRENT.
    This makes the default version the one labelled AWSCURRENT (moto's own value only while
    no version holds the label); it never invents a version or a label.
    """
    from moto.secretsmanager.models import FakeSecret

    def get(self: Any) -> str | None:
        for version_id, version in getattr(self, "versions", {}).items():
            if CURRENT in version["version_stages"]:
                return str(version_id)
        return self.__dict__.get("_fidelity_default_version_id")

    def set_(self: Any, value: str | None) -> None:
        self.__dict__["_fidelity_default_version_id"] = value

    FakeSecret.default_version_id = property(get, set_)  # type: ignore[assignment]  # moto's attribute, now a property


def rotation_waits_for_the_function() -> None:
    """RotateSecret without a rotation function leaves what AWS leaves before it invokes one.

    AWS: RotateSecret creates the new version's id (the ClientRequestToken) labelled
    AWSPENDING and invokes the function with it; the function's createSecret puts the value
    with that token, and finishSecret moves AWSCURRENT to it. While AWSPENDING is on a version
    that is not AWSCURRENT, a new RotateSecret is refused: "A previous rotation isn't complete"
    (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_how.html,
    https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html).
    With RotateImmediately false AWS only tests the function and creates no version.
    moto, with no function, makes the new version AWSCURRENT at once (with no value when
    rotating immediately, a copy of the old value otherwise) and refuses the next rotation
    exactly when the last one finished. Here the emulator hosts no function, so the caller
    plays it (tests/test_rotation_protocol.py runs AWS's four steps in-process). Calls that
    name a function keep moto's behaviour.
    """
    import time
    import uuid

    from moto.secretsmanager import models
    from moto.secretsmanager.exceptions import InvalidParameterException, InvalidRequestException

    original = models.SecretsManagerBackend.rotate_secret

    def rotate_secret(self: Any, secret_id: str, client_request_token: str | None = None,
                      rotation_lambda_arn: str | None = None, rotation_rules: dict[str, Any] | None = None,
                      rotate_immediately: bool = True) -> str:
        secret = self.secrets.get(secret_id) if self._is_valid_identifier(secret_id) else None
        if (secret is None or rotation_lambda_arn or getattr(secret, "rotation_lambda_arn", "")
                or secret.is_deleted() or not hasattr(secret, "versions")):
            return original(self, secret_id, client_request_token, rotation_lambda_arn, rotation_rules,
                            rotate_immediately)
        if any(PENDING in v["version_stages"] and CURRENT not in v["version_stages"]
               for v in secret.versions.values()):
            raise InvalidRequestException("A previous rotation isn't complete. That rotation will be continued.")
        days = (rotation_rules or {}).get("AutomaticallyAfterDays")
        if days is not None:
            if not 1 <= int(days) <= 1000:
                raise InvalidParameterException("RotationRules.AutomaticallyAfterDays must be within 1-1000.")
            secret.auto_rotate_after_days = int(days)
            secret.next_rotation_date = int(time.time()) + int(days) * 86400
        secret.rotation_requested = True
        secret.rotation_enabled = secret.rotation_enabled or secret.auto_rotate_after_days > 0
        answer = {"ARN": secret.arn, "Name": secret.name}
        if rotate_immediately and secret.versions:
            token = client_request_token or str(uuid.uuid4())
            secret.remove_version_stages_from_old_versions([PENDING])
            secret.versions[token] = {"createdate": int(time.time()), "version_id": token,
                                      "version_stages": [PENDING]}
            answer["VersionId"] = token
        return json.dumps(answer)

    models.SecretsManagerBackend.rotate_secret = rotate_secret  # type: ignore[method-assign]  # patches moto's class


CORRECTIONS: tuple[Callable[[], None], ...] = (
    touching_windows_allowed,
    instance_settings_stored,
    default_ca_is_current,
    master_secret_holds_master_user,
    parameter_source_honoured,
    rule_descriptions_kept,
    managed_iam_policies,
    current_follows_the_label,
    rotation_waits_for_the_function,
)


def install() -> None:
    for correction in CORRECTIONS:
        correction()


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--plain" in args:
        args.remove("--plain")
    else:
        install()
    from moto import server

    server.main(args)


if __name__ == "__main__":
    main()
