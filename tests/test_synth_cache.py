"""The synth cache: a synth is reused only when nothing its output depends on changed.

Real synths (main.py, node, the provider bindings) of a copy of the project's
sources, into temporary output directories with a private store: the
project's cdktf.out and .tenantdb/synth-cache are never touched, and edits
others make to the working tree while the tests run cannot change the inputs
under them. What a change to stacks/, main.py or an imported tenantdb module
does is shown on the content address itself (each cold synth costs 15-40 s).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tenantdb.infra import synth, synth_cache
from tenantdb.paths import PROJECT_ROOT


def _files(outdir: Path) -> dict[str, bytes]:
    return {rel: (outdir / rel).read_bytes() for rel in synth_cache.written_files(outdir)}


def _copy_sources(root: Path) -> Path:
    """What the synth reads from the project: main.py, cdktf.json, stacks/, tenantdb/, sql/."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("main.py", "cdktf.json"):
        shutil.copy2(PROJECT_ROOT / name, root / name)
    ignore = shutil.ignore_patterns("__pycache__")
    for name in ("stacks", "tenantdb", "sql"):
        shutil.copytree(PROJECT_ROOT / name, root / name, ignore=ignore)
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_sources(tmp_path_factory.mktemp("project") / "tenantdb")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("synth-store")


@pytest.fixture(scope="module")
def cold(tmp_path_factory: pytest.TempPathFactory, store: Path, project: Path
         ) -> tuple[Path, synth.Outcome, dict[str, bytes]]:
    """One real synth into a fresh directory with an empty store."""
    out = tmp_path_factory.mktemp("synth-cold") / "cdktf.out"
    outcome = synth.run(outdir=out, store=store, root=project)
    return out, outcome, _files(out)


def test_a_cold_synth_runs_main_py_and_records_its_output(cold, store):
    out, outcome, files = cold
    assert outcome.source == "synth" and outcome.key
    assert "manifest.json" in files and any(f.endswith("cdk.tf.json") for f in files)
    record = synth_cache._read_json(out / synth_cache.RECORD)
    assert record["key"] == outcome.key and set(record["files"]) == set(files)
    assert (store / outcome.key / synth_cache.RECORD).is_file()


def test_unchanged_inputs_reuse_the_output_directory_without_writing(cold, store, project):
    out, first, files = cold
    before = {rel: (out / rel).stat().st_mtime_ns for rel in files}
    again = synth.run(outdir=out, store=store, root=project)
    assert again.source == "cdktf.out" and again.key == first.key
    assert [d.name for d in again.dirs] == [d.name for d in first.dirs]
    assert {rel: (out / rel).stat().st_mtime_ns for rel in files} == before  # nothing rewrote a file


def test_a_new_output_directory_is_filled_from_the_store_equal_to_a_fresh_synth(cold, store, project, tmp_path):
    _, first, files = cold
    other = tmp_path / "cdktf.out"
    got = synth.run(outdir=other, store=store, root=project)
    assert got.source == "store"
    assert _files(other) == files
    assert [d.name for d in got.dirs] == [d.name for d in first.dirs]


def test_a_damaged_output_directory_is_not_reused(cold, store, project, tmp_path):
    _, _, files = cold
    out = tmp_path / "cdktf.out"
    synth.run(outdir=out, store=store, root=project)
    stack_file = next(f for f in files if f.endswith("cdk.tf.json"))
    (out / stack_file).write_text("{}")  # e.g. a foreign write (npx cdktf synth of other sources)
    assert not synth_cache.outdir_hit(out, synth_cache.key(False, None, project))
    repaired = synth.run(outdir=out, store=store, root=project)
    assert repaired.source == "store" and _files(out) == files
    (out / "manifest.json").unlink()
    assert synth.run(outdir=out, store=store, root=project).source == "store" and _files(out) == files


def test_a_damaged_store_entry_is_dropped_and_main_py_synthesizes_again(cold, project, tmp_path):
    _, first, files = cold
    store = tmp_path / "store"
    shutil.copytree(cold[1].dirs[0].parents[1], tmp_path / "seed")  # a copy of the cold output ...
    seed = synth_cache.digests(tmp_path / "seed", files)
    synth_cache.store_output(tmp_path / "seed", first.key, seed, store)  # ... stored under its key
    entry = store / first.key
    stack_file = next(f for f in files if f.endswith("cdk.tf.json"))
    (entry / stack_file).write_text("{}")
    out = tmp_path / "cdktf.out"
    got = synth.run(outdir=out, store=store, root=project)
    assert got.source == "synth"  # the damaged entry was not used
    assert _files(out) == files  # and a real synth wrote what the first one did
    assert synth_cache.outdir_hit(out, first.key)


def test_an_overlay_that_changes_a_setting_synthesizes_again(cold, store, project, tmp_path):
    _, first, files = cold
    same = tmp_path / "same.toml"
    same.write_text("# a comment changes no setting\n[dev]\n")
    assert synth_cache.key(False, same, project) == first.key  # the effective settings are hashed, not the file
    overlay = tmp_path / "changed.toml"
    overlay.write_text('[dev]\ninstance_class = "db.t3.large"\n')
    out = tmp_path / "cdktf.out"
    got = synth.run(overlay=overlay, outdir=out, store=store, root=project)
    assert got.source == "synth" and got.key != first.key
    dev = next(f for f in files if "qualisys-db-dev" in f and f.endswith("cdk.tf.json"))
    assert "db.t3.large" in (out / dev).read_text() and "db.t3.large" not in files[dev].decode()
    assert synth.run(overlay=overlay, outdir=out, store=store, root=project).source == "cdktf.out"
    assert synth.run(outdir=out, store=store, root=project).source == "store" and _files(out) == files


def test_the_with_access_flag_is_part_of_the_key(project):
    assert synth_cache.key(True, None, project) != synth_cache.key(False, None, project)


def test_environment_variables_main_py_reads_are_part_of_the_key(monkeypatch, project):
    base = synth_cache.key(False, None, project)
    monkeypatch.setenv("CDKTF_CONTEXT_JSON", '{"x": 1}')
    assert synth_cache.key(False, None, project) != base
    monkeypatch.delenv("CDKTF_CONTEXT_JSON")
    monkeypatch.setenv("CDKTF_OUTDIR", "/elsewhere")  # where the output goes is not what it is
    assert synth_cache.key(False, None, project) == base


def test_invalid_settings_have_no_key_so_main_py_reports_them(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[dev]\nmulti_az = 'perhaps'\n")
    assert synth_cache.key(False, bad) is None


@pytest.fixture()
def sources(tmp_path: Path) -> Path:
    """A private copy to edit (the shared tree is never edited)."""
    return _copy_sources(tmp_path / "project")


@pytest.mark.parametrize("edited", ["stacks/kms.py", "stacks/__init__.py", "main.py", "cdktf.json",
                                    "tenantdb/settings.py", "tenantdb/paths.py",
                                    "tenantdb/database/bootstrap/roles.py"])
def test_an_edit_to_what_the_synth_reads_changes_the_key(sources, edited):
    before = synth_cache.key(False, None, root=sources)
    path = sources / edited
    original = path.read_bytes()
    path.write_bytes(original + (b"\n" if edited.endswith(".json") else b"\n# edited\n"))
    assert synth_cache.key(False, None, root=sources) != before
    path.write_bytes(original)
    assert synth_cache.key(False, None, root=sources) == before  # content-addressed, not time-stamped


def test_a_new_file_under_stacks_changes_the_key(sources):
    before = synth_cache.key(False, None, root=sources)
    (sources / "stacks" / "extra.py").write_text("X = 1\n")
    assert synth_cache.key(False, None, root=sources) != before


def test_an_edit_the_stacks_do_not_import_keeps_the_key(sources):
    before = synth_cache.key(False, None, root=sources)
    untouched = sources / "tenantdb" / "verify" / "posture.py"
    assert untouched not in synth_cache.source_files(sources)
    untouched.write_text(untouched.read_text() + "\n# edited\n")
    assert synth_cache.key(False, None, root=sources) == before


def test_the_switch_turns_the_cache_off(cold, project, monkeypatch, tmp_path):
    monkeypatch.setenv(synth_cache.SWITCH_ENV, "off")
    assert not synth_cache.enabled()
    out = tmp_path / "cdktf.out"
    shutil.copytree(cold[0], out)  # an intact, recorded output ...
    got = synth.run(outdir=out, store=tmp_path / "store", root=project)
    assert got.source == "synth" and got.key is None  # ... is not reused
    assert not (out / synth_cache.RECORD).exists()
