"""The GitHub Actions pipeline (.github/), validated offline.

- actionlint (with shellcheck for the run: scripts) and zizmor (offline, every
  persona) report nothing; the one accepted zizmor exception is written down
  with its reason in .github/zizmor.yml.
- Every third-party action is pinned to a full commit SHA with its version
  beside it; each job gets only the permissions it needs.
- The pipeline does what docs/ci.md says, and the code it runs is real: the
  settings snippet that picks the OIDC role runs against real settings, every
  `tenantdb` invocation parses with the real CLI parser, and the summary
  script renders real reports.

The scanners live in .tools/checkov (scripts/setup, tools-requirements.txt);
if they are missing the tests fail and say so, they never skip.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tenantdb import cli, report, settings

ROOT = Path(__file__).resolve().parents[1]
GITHUB = ROOT / ".github"
TOOLS = ROOT / ".tools" / "checkov" / "bin"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
DEPLOYED = [e for e in settings.ENVIRONMENTS if e != "local"]

PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"@[0-9a-f]{40} # v\d+(\.\d+)*$")


def load(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    if True in doc:  # YAML 1.1 reads the key `on` as true
        doc["on"] = doc.pop(True)
    return doc


def workflow(name: str) -> dict:
    return load(GITHUB / "workflows" / name)


def tool(name: str) -> str:
    path = TOOLS / name
    assert path.is_file(), f"{path} is missing: run scripts/setup (tools-requirements.txt installs it)"
    return str(path)


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")}
    env["PATH"] = f"{TOOLS}{os.pathsep}{env.get('PATH', '')}"  # shellcheck for actionlint
    env["NO_COLOR"] = "1"
    return env


def steps(doc: dict) -> list[dict]:
    jobs = doc.get("jobs") or {}
    out = [s for job in jobs.values() for s in job.get("steps", [])]
    return out + list((doc.get("runs") or {}).get("steps", []))


def test_there_is_a_pipeline():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "deploy.yml", "deploy-env.yml"}
    assert {p.parent.name for p in ACTIONS} == {"setup", "aws-role"}


# ----- the scanners ---------------------------------------------------------

def test_actionlint_reports_nothing():
    tool("shellcheck")
    proc = subprocess.run([tool("actionlint"), "-no-color", *map(str, WORKFLOWS)], cwd=ROOT, env=offline_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("persona", ["regular", "pedantic", "auditor"])
def test_zizmor_offline_reports_nothing(persona):
    proc = subprocess.run([tool("zizmor"), "--offline", "--persona", persona, "--config", str(GITHUB / "zizmor.yml"),
                           "--no-progress", "--color", "never", str(GITHUB)],
                          cwd=ROOT, env=offline_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout, proc.stdout


def test_actionlint_would_catch_a_broken_workflow(tmp_path):
    """The scanner really runs on our files: the same tree with one wrong input fails."""
    broken = tmp_path / "repo"
    (broken / ".github").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(broken)], check=True)
    for src in [*WORKFLOWS, *ACTIONS]:
        dst = broken / src.relative_to(ROOT)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(src.read_text())
    ci = broken / ".github" / "workflows" / "ci.yml"
    ci.write_text(ci.read_text().replace('postgres: "true"', 'postgress: "true"'))
    proc = subprocess.run([tool("actionlint"), "-no-color"], cwd=broken, env=offline_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and 'input "postgress" is not defined' in proc.stdout


# ----- pinning and permissions ----------------------------------------------

@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda p: str(p.relative_to(GITHUB)))
def test_every_third_party_action_is_pinned_to_a_commit_with_its_version(path):
    doc = load(path)
    uses = [s["uses"] for s in steps(doc) if "uses" in s]
    uses += [j["uses"] for j in (doc.get("jobs") or {}).values() if "uses" in j]
    third_party = [u for u in uses if not u.startswith(("$/", "./"))]
    assert all(PINNED.match(u) for u in third_party), third_party
    text = path.read_text()
    for u in third_party:
        line = next(ln for ln in text.splitlines() if u in ln)
        assert VERSION_COMMENT.search(line.strip()), f"{path.name}: {line.strip()} (say which version the SHA is)"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_default_to_read_only_contents(path):
    assert workflow(path.name)["permissions"] == {"contents": "read"}


def uses_oidc(job: dict) -> bool:
    return "uses" in job or any("aws-role" in s.get("uses", "") for s in job.get("steps", []))


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_only_jobs_that_assume_a_role_may_mint_oidc_tokens(path):
    for name, job in workflow(path.name)["jobs"].items():
        perms = job.get("permissions", {})
        assert "write-all" not in str(perms), name
        writes = {k for k, v in perms.items() if v == "write"}
        assert writes <= {"id-token"}, f"{path.name}:{name} writes {writes}"
        assert ("id-token" in writes) == uses_oidc(job), f"{path.name}:{name}: id-token: write iff it assumes a role"


def test_checkouts_do_not_keep_credentials():
    for path in WORKFLOWS:
        for s in steps(workflow(path.name)):
            if s.get("uses", "").startswith("actions/checkout@"):
                assert s.get("with", {}).get("persist-credentials") is False, path.name


# ----- what the pipeline does -----------------------------------------------

def run_scripts(doc: dict) -> str:
    return "\n".join(s.get("run", "") for s in steps(doc))


def test_pull_requests_run_tests_check_every_environment_and_plan_each():
    ci = workflow("ci.yml")
    assert set(ci["on"]) == {"pull_request"}
    jobs = ci["jobs"]
    assert "bash scripts/test" in run_scripts({"jobs": {"t": jobs["test"]}})
    check = run_scripts({"jobs": {"c": jobs["check"]}})
    assert "tenantdb synth" in check and "tenantdb check --format junit --output" in check
    assert "--env" not in check  # every environment
    plan = jobs["plan"]
    assert plan["strategy"]["matrix"]["environment"] == DEPLOYED
    assert plan["strategy"]["fail-fast"] is False
    assert "tenantdb plan --env" in run_scripts({"jobs": {"p": plan}})
    roles = [s["with"]["role"] for s in plan["steps"] if "aws-role" in s.get("uses", "")]
    assert roles == ["ci_plan_role_arn"]
    uploads = [s for s in plan["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert uploads and uploads[0]["with"]["path"] == "plans/"
    assert "GITHUB_STEP_SUMMARY" in run_scripts({"jobs": {"p": plan}})


def test_main_deploys_in_order_with_prod_behind_its_environment():
    deploy = workflow("deploy.yml")
    assert deploy["on"] == {"push": {"branches": ["main"]}}
    assert deploy["concurrency"]["cancel-in-progress"] is False
    jobs = deploy["jobs"]
    order = [jobs[e]["with"]["environment"] for e in DEPLOYED]
    assert order == DEPLOYED
    assert [jobs[e]["needs"] for e in DEPLOYED] == ["check", *DEPLOYED[:-1]]
    env_wf = workflow("deploy-env.yml")
    apply_job, post = env_wf["jobs"]["apply"], env_wf["jobs"]["post-apply"]
    # The GitHub environment named like the tenantdb one: prod's required reviewers gate the apply.
    assert apply_job["environment"] == "${{ inputs.environment }}"
    apply_run = run_scripts({"jobs": {"a": apply_job}})
    assert apply_run.index("tenantdb plan") < apply_run.index("terraform -chdir")
    assert "apply -input=false" in apply_run and "tfplan" in apply_run.split("apply -input=false")[1]
    assert post["needs"] == "apply" and "self-hosted" in post["runs-on"]
    post_run = run_scripts({"jobs": {"p": post}})
    assert post_run.index("tenantdb bootstrap") < post_run.index("tenantdb verify")
    assert "|| true" not in post_run and "continue-on-error" not in str(post)  # a failing check fails the job


def tenantdb_invocations() -> list[list[str]]:
    """Every `.venv/bin/tenantdb ...` command line in the pipeline, variables filled in."""
    out = []
    for path in WORKFLOWS + ACTIONS:
        script = run_scripts(load(path)).replace("\\\n", " ")
        for line in script.splitlines():
            if ".venv/bin/tenantdb " not in line:
                continue
            cmd = line.split(".venv/bin/tenantdb ", 1)[1].split(">", 1)[0]
            cmd = cmd.replace("$TENANTDB_ENV", "dev").replace('"${allow[@]}"', "--allow-replace aws_db_instance.db")
            out.append(shlex.split(cmd))
    return out


def test_every_tenantdb_command_in_the_pipeline_parses_with_the_cli():
    found = tenantdb_invocations()
    assert {argv[0] for argv in found} == {"synth", "check", "plan", "bootstrap", "verify"}
    parser = cli.build_parser()
    for argv in found:
        parser.parse_args(argv)  # raises UsageError on an option the CLI does not have


@pytest.mark.parametrize("name", ["ci.yml", "deploy-env.yml"])
def test_plan_step_passes_each_allowed_address_verbatim(tmp_path, name):
    """TENANTDB_ALLOW_REPLACE -> one --allow-replace per address, no globbing ([0] stays)."""
    jobs = workflow(name)["jobs"]
    step = next(s for j in jobs.values() for s in j.get("steps", []) if "tenantdb plan" in s.get("run", ""))
    assert step["env"]["ALLOW_REPLACE"] == "${{ vars.TENANTDB_ALLOW_REPLACE }}"
    fake = tmp_path / ".venv" / "bin" / "tenantdb"  # records its arguments, one per line
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    (tmp_path / "aws_db_instance.db0").write_text("")  # what the glob aws_db_instance.db[0] would match
    for allowed, expected in (("", []), ("aws_db_instance.db[0]  stack:aws_kms_key.rds",
                                         ["--allow-replace", "aws_db_instance.db[0]",
                                          "--allow-replace", "stack:aws_kms_key.rds"])):
        proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, capture_output=True, text=True,
                              env={**os.environ, "TENANTDB_ENV": "dev", "ALLOW_REPLACE": allowed}, timeout=30)
        assert proc.returncode == 0, proc.stderr
        args = (tmp_path / "plans" / "dev.report.json").read_text().splitlines()
        assert args == ["plan", "--env", "dev", "--out", "plans/dev.tfplan", "--format", "json", *expected]


def role_snippet() -> str:
    """The Python heredoc (between <<'PY' and PY) of the aws-role action's settings step."""
    run = next(s["run"] for s in load(GITHUB / "actions" / "aws-role" / "action.yml")["runs"]["steps"]
               if s.get("id") == "settings")
    return run.split("<<'PY'\n", 1)[1].rsplit("\nPY", 1)[0]


def run_role_snippet(tmp_path: Path, field: str, overlay: str | None, optional: str = "false"):
    env = {k: v for k, v in os.environ.items() if k != settings.SETTINGS_ENV_VAR}
    env.update(TENANTDB_ENV="prod", ROLE_FIELD=field, OPTIONAL=optional)
    if overlay is not None:
        path = tmp_path / "ci.toml"
        path.write_text(overlay)
        env[settings.SETTINGS_ENV_VAR] = str(path)
    return subprocess.run([sys.executable, "-c", role_snippet()], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_role_fields_named_by_the_pipeline_exist_in_the_settings():
    named = set()
    for path in WORKFLOWS:
        named |= {s["with"]["role"] for s in steps(workflow(path.name)) if "aws-role" in s.get("uses", "")}
    assert named == {"ci_plan_role_arn", "ci_apply_role_arn", "ci_bootstrap_role_arn"}
    assert named <= set(settings.Settings.model_fields)


def test_role_snippet_reads_the_role_and_region_from_the_settings(tmp_path):
    arn = "arn:aws:iam::123456789012:role/tenantdb-plan-prod"
    proc = run_role_snippet(tmp_path, "ci_plan_role_arn", f'[prod]\nci_plan_role_arn = "{arn}"\nregion = "eu-west-1"\n')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"role={arn}", "region=eu-west-1"]


def test_role_snippet_stops_when_the_role_is_not_set(tmp_path):
    proc = run_role_snippet(tmp_path, "ci_apply_role_arn", None)
    assert proc.returncode == 1
    assert "prod: ci_apply_role_arn is empty" in proc.stderr and "docs/ci.md" in proc.stderr
    assert proc.stdout == ""


def test_role_snippet_optional_role_falls_back_to_the_runner_credentials(tmp_path):
    proc = run_role_snippet(tmp_path, "ci_bootstrap_role_arn", None, optional="true")
    assert proc.returncode == 0 and proc.stdout.splitlines() == ["role=", "region=us-east-1"]


def test_role_snippet_rejects_a_bad_settings_file_in_one_line(tmp_path):
    proc = run_role_snippet(tmp_path, "ci_plan_role_arn", '[prod]\nci_plan_role_arn = "not-an-arn"\n')
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "ci_plan_role_arn='not-an-arn'" in proc.stderr


def test_apply_step_finds_the_stack_the_plan_saved():
    run = run_scripts({"jobs": {"a": workflow("deploy-env.yml")["jobs"]["apply"]}})
    snippet = re.search(r"python -c '([^']+)'", run)[1]
    env = {k: v for k, v in os.environ.items() if k != settings.SETTINGS_ENV_VAR} | {"TENANTDB_ENV": "staging"}
    proc = subprocess.run([sys.executable, "-c", snippet], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout.strip() == settings.load("staging").stack_id


def test_provider_mirror_version_matches_the_one_the_project_runs():
    setup = load(GITHUB / "actions" / "setup" / "action.yml")
    version = setup["inputs"]["aws-provider-version"]["default"]
    mirror = Path(settings.load("dev").provider_mirror) / "registry.terraform.io" / "hashicorp" / "aws"
    assert [p.name for p in mirror.iterdir()] == [version]


# ----- the job summary ------------------------------------------------------

def summary(tmp_path: Path, *files: Path) -> str:
    proc = subprocess.run([sys.executable, str(GITHUB / "scripts" / "summary.py"), "tenantdb plan: dev",
                           *map(str, files)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def sample_report() -> report.Report:
    return report.Report("dev", "plan", [
        report.passed("PLAN", "qualisys-db-dev", "a plan", "0 to add, 1 to change, 1 to replace, 0 to destroy"),
        report.failed("REPLACE", "qualisys-db-dev:aws_db_instance.db", "no replace", "replace",
                      'plan would replace it: forced by db_name ("a" -> "b") | pipe'),
        report.passed("REBOOT", "qualisys-db-dev:aws_db_parameter_group.postgres", "no reboot", "WARN: reboot needed",
                      "WARN: static parameter max_connections 200 -> 250"),
    ])


def test_summary_renders_every_check_of_a_json_report(tmp_path):
    path = tmp_path / "dev.report.json"
    path.write_text(report.to_json([sample_report()]))
    md = summary(tmp_path, path)
    assert md.startswith("### tenantdb plan: dev")
    assert "**plan · dev**: 2 passed, 1 failed, 0 errors, 0 skipped" in md
    assert "| ❌ FAIL | REPLACE qualisys-db-dev:aws_db_instance.db | replace |" in md
    assert "\\| pipe" in md  # a | in a detail does not break the table
    assert "WARN: reboot needed" in md


def test_summary_renders_the_failures_of_a_junit_report(tmp_path):
    path = tmp_path / "check.xml"
    path.write_text(report.to_junit([sample_report()]))
    md = summary(tmp_path, path)
    assert "**tenantdb.plan.dev**: 3 checks, 1 failed, 0 errors, 0 skipped" in md
    assert "FAIL | REPLACE qualisys-db-dev:aws_db_instance.db" in md


def test_summary_never_shows_a_missing_report_as_a_pass(tmp_path):
    md = summary(tmp_path, tmp_path / "missing.json")
    assert "⛔ **missing.json**: no readable report" in md and "passed" not in md
