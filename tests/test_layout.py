"""The layout shows the data flow, and this test keeps it that way.

It reads the imports of every module (without running them) and checks the rules the
README's "How it is built" describes: a stage imports only stages below it (or itself),
metrics/ never imports Streamlit, ui/ and pages/ hold no SQL and compute no statistics,
there are no import cycles, and modules stay small enough to read.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Stages from the bottom up. A module may import its own stage and any stage below it.
STAGES = [
    ("metrics.settings",),
    ("metrics.access",),                    # roles, from the settings
    ("metrics.reference",),
    ("metrics.stats",),
    ("metrics.store",),
    ("metrics.ingest", "metrics.demo"),     # the two ways rows reach the store
    ("metrics.geo",),
    ("metrics.views",),
    ("metrics.render",),
    ("metrics.reports",),
    ("ui",),
    ("pages", "app"),
]

# Modules over MAX_LINES that are one cohesive thing, and why.
MAX_LINES = 600
COHESIVE = {
    "metrics/stats/methods.py": "the users' statistical conventions, documented together "
                                "(intervals, comparison, trend, SPC, funnels) with their sources",
    "metrics/ingest/validate.py": "every check a row of an extract passes before publishing, "
                                  "one message per problem; split by column type it would "
                                  "scatter the rules an analyst reads together",
    "metrics/demo.py": "the demonstration generator: one seeded model of every metric",
    "metrics/store.py": "the only module that opens Parquet or writes SQL (by design)",
    "metrics/ingest/layouts.py": "the published layouts recognised (ONS, Fingertips, wide "
                                 "tables), one reader per layout",
    "metrics/views/continuity.py": "the continuity-of-care page's figures, trajectory and "
                                   "breakdowns against the 75% target",
    "metrics/ingest/loading.py": "one load from file to published version, in order",
    "metrics/ingest/readers.py": "reading CSV, Excel, ODS and Parquet with bounded memory",
}


def _python_files() -> list[Path]:
    files = [ROOT / "app.py"]
    for folder in ("metrics", "ui", "pages"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module a file imports (at any depth: function-level imports count), with the
    line; `from metrics import geo` counts as importing metrics.geo."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _stage(module: str) -> int | None:
    for rank, prefixes in enumerate(STAGES):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def _ours(name: str, modules: set[str]) -> str | None:
    """The project module an imported name refers to (the longest match), or None."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


MODULES = {_module_name(p): p for p in _python_files()}


def test_every_module_belongs_to_a_stage():
    loose = [m for m in MODULES if m not in ("metrics",) and _stage(m) is None]
    assert loose == [], f"modules outside every stage: {loose}"


def test_lower_stages_never_import_higher_ones():
    wrong = []
    for module, path in MODULES.items():
        rank = _stage(module)
        if rank is None:
            continue
        for name, line in _imports(path):
            target = _ours(name, set(MODULES))
            if target and target != "metrics" and _stage(target) > rank:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == [], "\n".join(wrong)


def test_specific_rules_of_the_design():
    rules = [  # (importer prefix, forbidden prefix)
        ("metrics.stats", "metrics.store"), ("metrics.stats", "metrics.render"),
        ("metrics.views", "ui"), ("metrics.render", "metrics.views"),
        ("metrics.views", "metrics.render"), ("metrics.demo", "metrics.views"),
    ]
    wrong = []
    for module, path in MODULES.items():
        for name, line in _imports(path):
            for importer, forbidden in rules:
                if module.startswith(importer) and (name == forbidden
                                                    or name.startswith(forbidden + ".")):
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert wrong == [], "\n".join(wrong)


def test_metrics_never_imports_streamlit():
    wrong = [f"{path.relative_to(ROOT)}:{line}" for module, path in MODULES.items()
             if module.startswith("metrics") for name, line in _imports(path)
             if name == "streamlit" or name.startswith("streamlit.")]
    assert wrong == [], wrong


def test_pages_and_ui_hold_no_sql_and_compute_no_statistics():
    """ui/ and pages/ lay out what metrics/ returns: no database, no SQL text, and from
    metrics.stats only the words that name a result (comparison_words, TREND_WORDS)."""
    wrong = []
    for module, path in MODULES.items():
        if not module.startswith(("ui", "pages", "app")):
            continue
        tree = ast.parse(path.read_text())
        for name, line in _imports(path):
            if name.split(".")[0] in ("duckdb", "pyarrow", "scipy", "sqlite3"):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.upper()
                if "SELECT " in text and " FROM " in text:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} holds SQL")
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "stats"
                    and not node.attr.lower().endswith("_words")):
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} calls stats.{node.attr}")
    assert wrong == [], "\n".join(wrong)


def test_no_import_cycles():
    graph = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for name, _ in _imports(path):
            target = _ours(name, set(MODULES))
            # A package's __init__ re-exporting its own modules is not a cycle.
            if target and target != module and not target.startswith(module + "."):
                graph[module].add(target)
    seen, stack, cycles = set(), [], []

    def visit(node):
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        stack.pop()

    for module in sorted(graph):
        visit(module)
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


def test_every_package_says_what_it_is_for():
    missing = [str(p.relative_to(ROOT)) for p in (ROOT / "metrics").rglob("__init__.py")
               if not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == [], missing


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_readable(path):
    rel = str(path.relative_to(ROOT))
    lines = len(path.read_text().splitlines())
    if rel in COHESIVE:
        return
    assert lines <= MAX_LINES, (f"{rel} has {lines} lines: split it by what its parts do, "
                                f"or list it in COHESIVE with the reason")
