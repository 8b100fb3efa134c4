"""What an import did: counts, repaired rows and rejected rows with their reasons."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from gis.spreadsheet_csv import SpreadsheetWriter


def text_or_none(value) -> str | None:
    """A cell's value as text for a report; None, NaN and pd.NA all mean "none"."""
    return None if pd.isna(value) else str(value)


@dataclass(frozen=True)
class RowIssue:
    """One row's problem: its 1-based record number, external id, field and reason."""

    row: int
    external_id: str | None
    field: str
    reason: str


@dataclass
class ImportReport:
    """The outcome of one import (or dry run)."""

    kind: str
    source: str
    dry_run: bool = False
    read: int = 0
    inserted: int = 0
    updated: int = 0
    repaired: list[RowIssue] = field(default_factory=list)
    rejected: list[RowIssue] = field(default_factory=list)
    outside_cells: list[RowIssue] = field(default_factory=list)
    seconds: float = 0.0
    # Imports that write several tables: {"houses": {"inserted": 3, "updated": 1}, ...}
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the terminal."""
        verb = "would import" if self.dry_run else "imported"
        line = (
            f"{self.kind}: read {self.read}, {verb} {self.inserted} new and "
            f"{self.updated} updated, repaired {len(self.repaired)}, "
            f"rejected {len(self.rejected)}, outside every cell {len(self.outside_cells)} "
            f"({self.seconds:.1f}s)"
        )
        for kind, counts in self.counts.items():
            line += f"; {kind}: " + ", ".join(f"{n} {what}" for what, n in counts.items())
        return line

    def write(self, path: Path) -> None:
        """Save as JSON (.json) or as CSV of the row issues (any other suffix)."""
        path = Path(path)
        if path.suffix.lower() == ".json":
            path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), "utf-8")
            return
        with path.open("w", newline="", encoding="utf-8-sig") as out:
            writer = SpreadsheetWriter(out)
            writer.writerow(["outcome", "row", "external_id", "field", "reason"])
            for outcome, issues in (
                ("rejected", self.rejected),
                ("repaired", self.repaired),
                ("outside_cells", self.outside_cells),
            ):
                for issue in issues:
                    writer.writerow(
                        [outcome, issue.row, issue.external_id, issue.field, issue.reason]
                    )
