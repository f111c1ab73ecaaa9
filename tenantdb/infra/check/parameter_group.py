"""Assertions about the parameter group (stacks/parameter_group.py): Story 0.4 AC6."""

from __future__ import annotations

from tenantdb.infra.check.context import Ctx, title
from tenantdb.infra.check.reader import parse_ref
from tenantdb.report import Check, failed, passed

STORY_PARAMETERS = ("max_connections", "shared_buffers")
"""The values Story 0.4 AC6 fixes itself; an overlay may not move them."""


def _temp_file_limit(actual: dict[str, tuple[str, str | None]], storage_gb: int) -> str | None:
    """temp_file_limit bounds one session's temporary files below the volume (kB; -1 is no limit),
    so one tenant's runaway sort cannot fill the storage every tenant writes to."""
    value = actual.get("temp_file_limit", (None,))[0]
    volume_kb = storage_gb * 1024 * 1024
    if value is None or not str(value).isdigit() or not 0 < int(value) < volume_kb:
        return (f"temp_file_limit={value}: one session's temporary files are not bounded below the "
                f"{storage_gb} GiB volume (the threat model: availability)")
    return None


def ac6_parameters(c: Ctx) -> Check:
    i, t = c.instance, title("AC6")
    pref = parse_ref(i.get("parameter_group_name"))
    if not pref or pref[1] != "aws_db_parameter_group":
        return failed("AC6", t, "custom parameter group attached", i.get("parameter_group_name"),
                      "the instance does not use this stack's aws_db_parameter_group")
    group = c.db.resources("aws_db_parameter_group")[pref[2]]
    actual = {p["name"]: (p["value"], p.get("apply_method")) for p in group.get("parameter", [])}
    problems = []
    if group.get("family") != c.s.parameter_group_family or group.get("name") != c.s.parameter_group_name:
        problems.append(f"group {group.get('name')}/{group.get('family')}, "
                        f"want {c.s.parameter_group_name}/{c.s.parameter_group_family}")
    for name, want in c.s.db_parameters.items():
        if actual.get(name) != want:
            problems.append(f"{name}={actual.get(name)} want {want}")
    for name in STORY_PARAMETERS:
        if actual.get(name, (None,))[0] != c.base.db_parameters[name][0]:
            problems.append(f"{name}={actual.get(name, (None,))[0]} but Story 0.4 requires "
                            f"{c.base.db_parameters[name][0]}")
    unbounded = _temp_file_limit(actual, c.s.allocated_storage_gb)
    problems += [unbounded] if unbounded else []
    expected = (f"{c.s.parameter_group_name}: max_connections={c.base.db_parameters['max_connections'][0]}, "
                f"shared_buffers={c.base.db_parameters['shared_buffers'][0]}, "
                f"temp_file_limit={c.s.db_parameters['temp_file_limit'][0]}, {len(c.s.db_parameters)} parameters")
    got = (f"{group.get('name')}: max_connections={actual.get('max_connections', ('-',))[0]}, "
           f"shared_buffers={actual.get('shared_buffers', ('-',))[0]}, "
           f"temp_file_limit={actual.get('temp_file_limit', ('-',))[0]}, {len(actual)} parameters")
    return failed("AC6", t, expected, got, "; ".join(problems)) if problems else passed("AC6", t, expected, got)
