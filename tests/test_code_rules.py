"""Rules about the code itself: each vocabulary (incident status, report channel, role) is
spelled in SQL only by its enum's home; queries bind the values or compose its fragments."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

from grid.roles import Role
from incidents.channels import Channel, RatingChannel
from incidents.status import Status

ROOT = Path(__file__).resolve().parent.parent
# Migrations are history: they build what the schema was, word for word. Benchmarks write
# synthetic rows and query other servers; they are not gridgov's queries.
SKIPPED_DIRS = {"migrations", "tests", "bench", "build", ".venv", "node_modules"}
# The homes that turn each enum into SQL text.
HOMES = {"incidents/status.py", "incidents/channels.py", "grid/roles.py"}

# Patterns of source lines (searched, in any file) where a quoted word is the same word in
# another vocabulary, each with the reason.
ALLOWED: dict[str, str] = {
    r"CheckConstraint\(\"status IN \('open', 'revisited', 'closed'\)\"": (
        "work-order statuses (rectification work orders), not incident statuses"
    ),
    r"UPDATE work_orders( w)? SET status = 'closed'": "a work order's status, not an incident's",
    r"CheckConstraint\(\"status IN \('pending', 'upheld', 'rejected'\)\"": (
        "rating-appeal decisions, not incident statuses"
    ),
}


def _words(values: object) -> str:
    return "|".join(sorted((v.value for v in values), key=len, reverse=True))  # type: ignore[attr-defined]


# Any quoted incident status in a string is a status spelled by hand.
_STATUS = re.compile(rf"'({_words(Status)})'")
# Channels and roles share their words with ordinary English and JSON keys, so only a
# comparison with a `channel` or `role` column counts: `role = 'admin'`, `channel IN (...)`.
_COMPARED = re.compile(
    r"\b(?:channel|role)\s*(?:=|<>|!=|\bIN\b|\bNOT IN\b)\s*(\(?)\s*'([a-z0-9_]+)'", re.I
)
_VOCABULARY = {v.value for v in (*Channel, *RatingChannel, *Role)}
# A CASE over roles names them as WHEN values (channels' words are too common for this).
_ROLE_CASE = re.compile(rf"\bWHEN\s+'({_words(Role)})'", re.I)


def _sources() -> Iterator[Path]:
    for top in sorted(ROOT.iterdir()):
        if top.name in SKIPPED_DIRS or top.name.startswith("."):
            continue
        files = top.rglob("*.py") if top.is_dir() else [top] if top.suffix == ".py" else []
        for path in sorted(files):
            rel = path.relative_to(ROOT)
            if "node_modules" not in rel.parts and rel.as_posix() not in HOMES:
                yield path
        if top.is_dir():
            yield from sorted(p for p in top.rglob("*.sql") if "node_modules" not in p.parts)


def _docstring_starts(tree: ast.AST) -> set[tuple[int, int]]:
    starts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                starts.add((body[0].value.lineno, body[0].value.col_offset))
    return starts


def _sql_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line of SQL: a .sql file's lines, or the lines of every
    string in a .py file that is not a docstring; SQL comments dropped."""
    source = path.read_text(encoding="utf-8")
    if path.suffix == ".sql":
        pieces = [(1, source)]
    else:
        docstrings = _docstring_starts(ast.parse(source))
        pieces = [
            (tok.start[0], tok.string)
            for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.STRING and tok.start not in docstrings
        ]
    for first, text in pieces:
        for offset, line in enumerate(text.split("\n")):
            yield first + offset, line.split("--", 1)[0]


def _literals(line: str) -> list[str]:
    found = _STATUS.findall(line) + _ROLE_CASE.findall(line)
    for match in _COMPARED.finditer(line):
        # An IN list counts whole (to its closing parenthesis or the line's end).
        listed = line[match.start(2) - 1 :].split(")", 1)[0] if match[1] else f"'{match[2]}'"
        found += [w for w in re.findall(r"'([a-z0-9_]+)'", listed) if w in _VOCABULARY]
    return found


def _allowed(line: str) -> bool:
    return any(re.search(pattern, line) for pattern in ALLOWED)


def find_vocabulary_literals() -> list[str]:
    """Every `file:line: 'word'` where SQL spells a status, channel or role by hand."""
    found = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        source = path.read_text(encoding="utf-8").splitlines()
        for number, line in _sql_lines(path):
            if number <= len(source) and _allowed(source[number - 1]):
                continue
            found += [f"{rel}:{number}: '{word}'" for word in _literals(line)]
    return found


def test_sql_binds_statuses_channels_and_roles_instead_of_spelling_them():
    """A status, channel or role written as a literal in SQL drifts from its enum: bind it
    (`status = ANY(:open)`) or compose the fragment its home builds (`sql_list`)."""
    assert find_vocabulary_literals() == []


def test_the_rule_catches_a_literal(tmp_path, monkeypatch):
    """The scan sees a literal in a query string, and not in a docstring or a comment."""
    module = tmp_path / "pkg" / "queries.py"
    module.parent.mkdir()
    module.write_text(
        '"""Mentions \'closed\' in prose."""\n'
        "Q = '''\n"
        "    SELECT 1 FROM incidents i\n"
        "    WHERE i.status = 'closed'  -- not 'resolved'\n"
        "      AND u.role IN ('street_manager', 'admin')\n"
        "    ORDER BY CASE u.role WHEN 'grid_worker' THEN 0 END\n"
        "'''\n",
        encoding="utf-8",
    )
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert find_vocabulary_literals() == [
        "pkg/queries.py:4: 'closed'",
        "pkg/queries.py:5: 'street_manager'",
        "pkg/queries.py:5: 'admin'",
        "pkg/queries.py:6: 'grid_worker'",
    ]


def test_every_allowed_line_still_exists():
    """An exception that matches no line any more is dropped from ALLOWED."""
    lines = [line for path in _sources() for line in path.read_text("utf-8").splitlines()]
    assert [p for p in ALLOWED if not any(re.search(p, line) for line in lines)] == []


# The one writer of a report's timeline (events, outbox messages) and of the version bump.
TIMELINE_HOMES = {"incidents/timeline.py", "incidents/versioning.py"}
_TIMELINE_WRITE = re.compile(
    r"INSERT\s+INTO\s+(?:incident_events|outbox|notifications)\b|\bversion\s*\+\s*1\b", re.I
)


def find_timeline_writes() -> list[str]:
    """Every `file:line` outside the homes where SQL inserts an event or a notification, or
    bumps a version, by hand."""
    found = []
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in SKIPPED_DIRS or "node_modules" in rel.parts:
            continue
        if path.suffix not in (".py", ".sql") or rel.as_posix() in TIMELINE_HOMES:
            continue
        for number, line in _sql_lines(path):
            if _TIMELINE_WRITE.search(line):
                found.append(f"{rel.as_posix()}:{number}")
    return found


def test_timeline_and_version_bump_are_written_in_one_place():
    """Events and notifications go through incidents.timeline (record_event, notify,
    event_rows, notification_rows) and every UPDATE takes versioning.next_version()."""
    assert find_timeline_writes() == []


def test_the_timeline_rule_catches_a_hand_written_insert(tmp_path, monkeypatch):
    """The scan sees a hand-written event insert and version bump in a query string."""
    module = tmp_path / "pkg" / "queries.py"
    module.parent.mkdir()
    module.write_text(
        '"""Says INSERT INTO outbox in prose."""\n'
        "Q = '''\n"
        "    INSERT INTO incident_events (incident_id) VALUES (1);\n"
        "    UPDATE incidents SET version = version + 1\n"
        "'''\n",
        encoding="utf-8",
    )
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert find_timeline_writes() == ["pkg/queries.py:3", "pkg/queries.py:4"]


# -- module size ---------------------------------------------------------------------------

MAX_MODULE_LINES = 600
# Modules still over the limit, being split (issue 17); the lead empties this set.
PENDING: set[str] = set()


def oversized_modules() -> dict[str, int]:
    """Tracked .py modules outside migrations/ and tests/ longer than MAX_MODULE_LINES."""
    import subprocess

    listed = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    sizes = {}
    for rel in listed:
        path = ROOT / rel
        if rel.split("/", 1)[0] in ("migrations", "tests") or not path.exists():
            continue  # a file deleted but not yet committed is no module
        with path.open(encoding="utf-8") as lines:
            sizes[rel] = sum(1 for _ in lines)
    return {rel: n for rel, n in sorted(sizes.items()) if n > MAX_MODULE_LINES}


def test_no_module_is_over_600_lines():
    """A module small enough to read in one sitting: split one that grows past the limit
    into modules named for what they hold."""
    over = {rel: n for rel, n in oversized_modules().items() if rel not in PENDING}
    assert over == {}, "modules over 600 lines: " + ", ".join(
        f"{rel} ({n})" for rel, n in over.items()
    )


def test_every_pending_module_is_still_over_the_limit():
    """A module split below the limit leaves PENDING, so the set only shrinks."""
    assert sorted(PENDING - set(oversized_modules())) == []
