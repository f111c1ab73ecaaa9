"""The house rules of the package layout (docs/architecture.md), read from the code's own imports.

- Nothing under tenantdb/ imports cdktf, jsii, constructs or stacks/: synth runs main.py in its
  own process, so the post-apply commands start fast and fit in a small job image.
- Wings stand on floors and import only downward: the ground floor (errors, paths, the settings
  and their groups of fields, the AWS reference tables, the parameter group's contents, report,
  checks) imports nothing of the project but other ground-floor modules, without a circle; its
  bases (errors.py, aws_reference.py, db_parameters.py) import nothing of the project at all;
  aws.py stands on it; then the database wing; then infra/ and verify/ (peers that never import
  each other); then local/; then commands/; cli.py on top. stacks/ and main.py may use the
  ground floor and the role model only.
- No import circle anywhere in tenantdb/, inside a wing too (a function-level import counts: it
  ties the two modules all the same).
- No module under tenantdb/ is over 450 lines, the settings included.
- The project stands alone: no tracker numbers and no paths outside the repository.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tenantdb"

SETTINGS = {f"tenantdb.{p.stem}" for p in PACKAGE.glob("settings*.py")}
"""The settings model (settings.py) and the modules it is made of: its errors and shared rules, its groups of fields."""
GROUND = {"tenantdb.errors", "tenantdb.paths", "tenantdb.aws_reference", "tenantdb.db_parameters", "tenantdb.report",
          "tenantdb.checks", *SETTINGS}
FLOORS: dict[str, int] = {"ground": 0, "aws": 1, "database": 2, "infra": 3, "verify": 3, "local": 4,
                          "commands": 5, "cli": 6, "package": 6}
FORBIDDEN_TOP = ("cdktf", "cdktf_cdktf_provider_aws", "cdktf_cdktf_provider_postgresql", "constructs", "jsii",
                 "stacks")
MAX_LINES = 450


def wing(module: str) -> str:
    """``tenantdb.database.bootstrap.roles`` -> ``database``; the ground floor's modules -> ``ground``."""
    if module in GROUND:
        return "ground"
    parts = module.split(".")
    if module == "tenantdb":
        return "package"
    return parts[1] if len(parts) > 1 else "package"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names), at any depth of the file."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    here = module_name(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = here.split(".")[: len(here.split(".")) - node.level + (path.name == "__init__.py")]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)  # `from tenantdb import db` names a module
    return found


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def statement_imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project's modules ``path`` imports, statement by statement: ``from pkg import a, f`` names
    module ``pkg.a`` and, for ``f`` (not a module), the package ``pkg`` itself (its __init__ runs)."""
    here = module_name(path)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + (path.name == "__init__.py")]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            subs = {f"{mod}.{a.name}" for a in node.names} & known.keys()
            found |= subs
            if mod in known and len(subs) < len(node.names):
                found.add(mod)
    return found


def own_imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project's modules ``path`` imports; a package counts only when nothing below it is named
    (``from tenantdb.database import roles`` imports roles, not the database wing's __init__)."""
    found = {m for m in imports(path) if m in known}
    return {m for m in found if not any(o.startswith(m + ".") for o in found)}


def test_nothing_in_the_package_imports_cdktf_or_stacks() -> None:
    offending = []
    for path in PACKAGE.rglob("*.py"):
        for mod in imports(path):
            if mod.split(".")[0] in FORBIDDEN_TOP:
                offending.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not offending, "\n".join(offending)


BASES = {"tenantdb.errors", "tenantdb.aws_reference", "tenantdb.db_parameters"}
"""The ground floor's bases, which import nothing of the project: the one error hierarchy and its
one-line rendering; the AWS reference tables; the parameter group's contents. The rest of the ground
floor may import them and each other (no circle: test_no_import_circle_anywhere), nothing else."""


def test_the_ground_floor_imports_nothing_of_the_project_but_the_ground_floor() -> None:
    known = project_modules()
    assert BASES <= GROUND <= known.keys()  # the lists name real modules
    offending = [f"{m} imports {', '.join(sorted(own_imports(known[m], known) - GROUND))}"
                 for m in sorted(GROUND) if m in known and own_imports(known[m], known) - GROUND]
    offending += [f"{m} imports {', '.join(sorted(own_imports(known[m], known)))}"
                  for m in sorted(BASES) if own_imports(known[m], known)]
    assert not offending, "\n".join(offending)


def test_wings_import_only_downward() -> None:
    known = project_modules()
    offending = []
    for mod, path in sorted(known.items()):
        w = wing(mod)
        for dep in own_imports(path, known):
            dw = wing(dep)
            if dw == w or dep == "tenantdb":
                continue
            if FLOORS[dw] >= FLOORS[w]:
                offending.append(f"{mod} ({w}) imports {dep} ({dw})")
    assert not offending, "\n".join(offending)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_circles_are_found() -> None:
    """The detector itself: a circle of three, a self-standing pair, and a tail."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"e"}, "e": set(), "f": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_no_import_circle_anywhere() -> None:
    known = project_modules()
    graph = {mod: {d for d in statement_imports(path, known) if d != "tenantdb" and d != mod}
             for mod, path in known.items()}
    found = circles(graph)
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_stacks_use_only_the_ground_floor_and_the_role_model() -> None:
    allowed = GROUND | {"tenantdb.database.bootstrap.roles"}
    known = project_modules()
    offending = []
    for path in [*sorted((ROOT / "stacks").glob("*.py")), ROOT / "main.py"]:
        # main.py also writes the project's Terraform CLI config before cdktf starts node.
        extra = {"tenantdb.infra.terraform"} if path.name == "main.py" else set()
        for dep in own_imports(path, known):
            if dep not in allowed | extra and dep != "tenantdb":
                offending.append(f"{path.relative_to(ROOT)} imports {dep}")
    assert not offending, "\n".join(offending)


def test_no_module_is_over_the_size_limit() -> None:
    big = [f"{p.relative_to(ROOT)}: {n} lines" for p in sorted(PACKAGE.rglob("*.py"))
           if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not big, "\n".join(big)


TRACKER = re.compile(r"issue [0-9]|LAYOUT\.md|TOOLCHAIN\.md|\.\./shared", re.IGNORECASE)


def test_the_project_stands_alone() -> None:
    """Code, comments, docs and messages name requirements in words, never tracker numbers or files
    outside the repository."""
    places = ["tenantdb", "stacks", "sql", "docs", "bench", "migrations", "main.py", "README.md"]
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", *places],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    hits = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.suffix in (".png", ".json"):
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if TRACKER.search(line):
                hits.append(f"{name}:{n}: {line.strip()[:100]}")
    assert not hits, "\n".join(hits[:20])


def test_importing_every_module_loads_no_synth_binding() -> None:
    """Importing the whole package, as the post-apply job image would, loads no cdktf, jsii or
    constructs module (the import rule above, checked at run time too)."""
    names = sorted(m for m in project_modules() if not m.endswith("__main__"))
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n    importlib.import_module(name)\n"
            "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('cdktf', 'jsii', 'constructs'))\n"
            "print(','.join(bad)); sys.exit(1 if bad else 0)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_unvalidated_copy_of_the_settings() -> None:
    """A changed copy of the settings is ``s.replaced(...)``, which validates like ``load()``;
    pydantic's ``model_copy(update=...)`` validates nothing and would hand on a value the model forbids."""
    offending = []
    for folder in (PACKAGE, ROOT / "bench", ROOT / "tests", ROOT / "stacks"):
        for path in folder.rglob("*.py"):
            if path.name in {"test_settings.py", "test_layout.py"}:
                continue  # test_settings shows what model_copy would let through
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if ".model_copy(" in line and not line.lstrip().startswith(("#", '"""')):
                    offending.append(f"{path.relative_to(ROOT)}:{n}")
    assert not offending, "use Settings.replaced(...): " + ", ".join(offending)
