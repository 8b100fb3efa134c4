"""The packages' layering: imports point one way, down the list, never back up."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Lowest first: a package may import those before it, never those after it.
LAYERS = ["core", "gis", "grid", "incidents", "maps", "interop", "demo", "api", "cli"]
RANK = {name: i for i, name in enumerate(LAYERS)}


def _imports(path: Path) -> list[tuple[int, str]]:
    """Absolute module names a file imports, with their line numbers."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def upward_imports(files: list[str]) -> list[str]:
    """Each import of a higher layer from a lower one, as 'file:line: a -> b'."""
    bad = []
    for name in files:
        layer = name.split("/")[0]
        if layer not in RANK:
            continue
        for line, module in _imports(ROOT / name):
            target = module.split(".")[0]
            if target in RANK and RANK[target] > RANK[layer]:
                bad.append(f"{name}:{line}: {layer} -> {module}")
    return bad


def test_no_package_imports_a_package_above_it():
    # Tracked files and new ones not yet committed (not those git ignores).
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert upward_imports(files) == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    # A grid module importing the API must be caught (the check can fail).
    (tmp_path / "grid").mkdir()
    (tmp_path / "grid" / "bad.py").write_text("from api.deps import SettingsDep\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert upward_imports(["grid/bad.py"]) == ["grid/bad.py:1: grid -> api.deps"]
