"""The database's function bodies, one `.sql` file per invariant; migrations read them with `load`.

`name.sql` is the version in force at migration head. When a later migration replaces a
function, the file's old text moves to `name.vN.sql`, which the migrations that made that
version (and the downgrade of the one replacing it) load instead, so editing `name.sql`
never changes what an older migration builds. docs/database.md lists them.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def load(name: str) -> str:
    """The text of migrations/sql/<name>.sql."""
    return (_HERE / f"{name}.sql").read_text(encoding="utf-8")
