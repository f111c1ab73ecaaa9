"""Assertions about the RDS instance (stacks/instance.py): Story 0.4 AC1-AC5 and the
settings around them (Extended Support, deletion protection, final snapshot, storage,
maintenance window)."""

from __future__ import annotations

from tenantdb.infra.check.context import Ctx, story_value, tf, title
from tenantdb.report import Check, compare, failed, passed, plain


def ac1_engine(c: Ctx) -> Check:
    i = c.instance
    major = str(i.get("engine_version", "")).split(".")[0]
    actual = f"{i.get('engine')} {i.get('engine_version')}"
    ok = i.get("engine") == "postgres" and major == str(c.s.engine_major) and int(major or 0) >= c.base.engine_major
    exp = f"postgres {c.s.engine_major} (>= {c.base.engine_major})"
    return (passed if ok else failed)("AC1", title("AC1"), exp, actual)


def ac2_class(c: Ctx) -> Check:
    return story_value(c, "AC2", "instance_class", c.instance.get("instance_class"))


def ac3_multi_az(c: Ctx) -> Check:
    # The story requires Multi-AZ where the baseline has it (prod); elsewhere it follows the settings.
    expected = True if c.base.multi_az else c.s.multi_az
    return compare("AC3", title("AC3"), expected, c.instance.get("multi_az"),
                   "" if c.instance.get("multi_az") == expected else
                   f"{c.s.environment} must be Multi-AZ (Story 0.4 AC3); settings multi_az={c.s.multi_az}")


def ac4_backups(c: Ctx) -> Check:
    i = c.instance
    expected = (f"retention {c.s.backup_retention_days} d (>= {c.base.backup_retention_days}), "
                f"window {c.base.backup_window}")
    actual = f"retention {i.get('backup_retention_period')} d, window {i.get('backup_window')}"
    ok = (i.get("backup_retention_period") == c.s.backup_retention_days
          and (i.get("backup_retention_period") or 0) >= c.base.backup_retention_days
          and i.get("backup_window") == c.base.backup_window == c.s.backup_window)
    return (passed if ok else failed)("AC4", title("AC4"), expected, actual)


def ac5_encryption(c: Ctx) -> Check:
    i = c.instance
    key = c.key_arn(c.s.kms_alias_rds)
    expected = f"storage_encrypted=true, kms_key_id={key}"
    actual = f"storage_encrypted={tf(i.get('storage_encrypted'))}, kms_key_id={i.get('kms_key_id')}"
    ok = i.get("storage_encrypted") is True and i.get("kms_key_id") == key
    return (passed if ok else failed)("AC5", title("AC5"), expected, actual)


def extended_support(c: Ctx) -> Check:
    """Cost safety: RDS enrols an instance in paid Extended Support unless it opts out explicitly."""
    want, got = c.s.engine_lifecycle_support, c.instance.get("engine_lifecycle_support")
    cid = "EXTENDED-SUPPORT"
    if got is None:
        return failed(cid, title(cid), want, "not set", "absent means RDS enrols the instance in paid "
                      "Extended Support when the major version leaves standard support")
    detail = "" if got.endswith("-disabled") else "opted IN to paid Extended Support by settings"
    return compare(cid, title(cid), want, got, detail)


def deletion_protection(c: Ctx) -> Check:
    expected = True if c.base.deletion_protection else c.s.deletion_protection
    return compare("DELETION-PROTECTION", title("DELETION-PROTECTION"), expected,
                   c.instance.get("deletion_protection"))


def final_snapshot(c: Ctx) -> Check:
    """Story 0.4 AC4: a final snapshot on delete, named once per instance lifetime (a fixed name makes the
    second destroy of a re-created instance fail), with the instance's tags copied to it."""
    i = c.instance
    wanted = c.base.final_snapshot or c.s.final_snapshot
    name = i.get("final_snapshot_identifier")
    problems = [] if i.get("skip_final_snapshot") is (not wanted) else [f"skip_final_snapshot must be {tf(not wanted)}"]
    if wanted:
        problems += _unique_name_problems(c, name)
    if i.get("copy_tags_to_snapshot") is not True:
        problems.append("copy_tags_to_snapshot must be true (the snapshot keeps the instance's tags)")
    expected = (f"final snapshot taken on delete, named {c.s.instance_identifier}-final-<{STAMP}>, tags copied"
                if wanted else "no final snapshot, tags copied to snapshots")
    actual = (f"skip_final_snapshot={tf(i.get('skip_final_snapshot'))}, final_snapshot_identifier={plain(name)}, "
              f"copy_tags_to_snapshot={tf(i.get('copy_tags_to_snapshot'))}")
    if problems:
        return failed("FINAL-SNAPSHOT", title("FINAL-SNAPSHOT"), expected, actual, "; ".join(problems))
    return passed("FINAL-SNAPSHOT", title("FINAL-SNAPSHOT"), expected, actual)


STAMP = "terraform_data.final_snapshot_stamp.output"
"""What makes the final snapshot's name unique: a time captured once per instance lifetime (stacks/instance.py)."""


def _unique_name_problems(c: Ctx, name: object) -> list[str]:
    """The name is ``<identifier>-final-`` and the stamp's output; the stamp is made once (its timestamp()
    input ignored afterwards) and replaced whenever the instance's identifier is."""
    prefix = f"{c.s.instance_identifier}-final-"
    if name != f"{prefix}${{{STAMP}}}":
        return [f"final_snapshot_identifier must be {prefix}${{{STAMP}}} (a fixed name collides on the "
                "second destroy of a re-created instance)"]
    stamp = c.db.resources("terraform_data").get("final_snapshot_stamp")
    if stamp is None:
        return ["terraform_data.final_snapshot_stamp is missing"]
    problems = []
    if "timestamp()" not in str(stamp.get("input", "")):
        problems.append("the stamp's input must be a timestamp()")
    if "input" not in ((stamp.get("lifecycle") or {}).get("ignore_changes") or []):
        problems.append("the stamp must ignore changes to its input (else every plan shows a diff)")
    if (stamp.get("triggers_replace") or {}).get("identifier") != c.instance.get("identifier"):
        problems.append("the stamp's triggers_replace must hold the instance's identifier (renewed with it)")
    return problems


def storage(c: Ctx) -> Check:
    i = c.instance
    expected = (c.s.storage_type, c.s.allocated_storage_gb, c.s.max_allocated_storage_gb)
    actual = (i.get("storage_type"), i.get("allocated_storage"), i.get("max_allocated_storage"))
    shown = "{} {} GB -> {} GB"
    # gp3 provisioned performance: asserted when set (else the baseline: absent from the instance).
    for attr, field_name, unit in (("iops", "storage_iops", "IOPS"),
                                   ("storage_throughput", "storage_throughput_mibps", "MiB/s")):
        want = getattr(c.s, field_name)
        if want is not None or i.get(attr) is not None:
            expected, actual, shown = (*expected, want), (*actual, i.get(attr)), f"{shown}, {{}} {unit}"
    return compare("STORAGE", title("STORAGE"), shown.format(*expected), shown.format(*actual))


def maintenance(c: Ctx) -> Check:
    return compare("MAINTENANCE-WINDOW", title("MAINTENANCE-WINDOW"), c.base.maintenance_window,
                   c.instance.get("maintenance_window"))
