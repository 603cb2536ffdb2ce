"""The supervision report of a batch: ``report.csv`` and a self-contained ``report.html``.

One row per recording: duration, words, affirmed and denied risk items, whether each lethality
topic was assessed, whether coping, referrals and follow-up were covered, doubtful-audio flags and
the partial/failed status, with counts across the folder and a coverage plot. The rows are built in
:mod:`~voicenotes.batch.report_rows`, the page in :mod:`~voicenotes.batch.report_html`; the CSV
and the writing of both files are here.

No transcript words appear unless ``include_quotes`` is set (``--include-quotes``): then the
quoted evidence of each risk item is added in one extra column.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from voicenotes.batch.journal import Journal
from voicenotes.batch.outputs import REPORT_CSV, REPORT_HTML
from voicenotes.batch.report_html import coverage_svg, render_html
from voicenotes.batch.report_rows import (
    COVERAGE,
    LETHALITY,
    NOT_ASSESSED,
    TOPIC_STATES,
    Row,
    build_rows,
    counts,
    row_for_outputs,
    topic_of,
)
from voicenotes.store import atomic_write_text

__all__ = [
    "COVERAGE", "LETHALITY", "NOT_ASSESSED", "TOPIC_STATES", "Row", "build_rows", "counts",
    "coverage_svg", "csv_header", "render_csv", "render_html", "row_for_outputs", "topic_of",
    "write_reports",
]


def _cell(v: Any) -> str:
    """Plain text for a CSV cell; a leading = + - @ is neutralised (spreadsheet formulas)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.1f}"
    s = str(v)
    if s[:1] in ("=", "+", "-", "@", "\t", "\r"):
        s = "'" + s
    return s


def csv_header(include_quotes: bool) -> list[str]:
    cols = ["recording", "status", "duration_s", "words", "risk_affirmed", "risk_denied"]
    cols += [k for k, _ in LETHALITY] + [k for k, _ in COVERAGE]
    cols += ["doubtful_segments", "audio_flags", "problem", "expected_duration_s", "output_folder",
             "speakers"]
    if include_quotes:
        cols.append("risk_quotes")
    return cols


def render_csv(rows: list[Row], include_quotes: bool) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(csv_header(include_quotes))
    for r in rows:
        cov = {k: (r.coverage.get(k) if r.coverage else None) for k, _ in COVERAGE}
        line = [r.recording, r.status, r.duration_s, r.words, r.risk_affirmed, r.risk_denied]
        line += [r.topics.get(k, "") for k, _ in LETHALITY]
        line += [cov[k] for k, _ in COVERAGE]
        line += [r.doubtful_segments, " ".join(r.audio_flags), r.problem, r.expected_s, r.output,
                 r.speakers]
        if include_quotes:
            line.append(" | ".join(r.quotes))
        w.writerow([_cell(v) for v in line])
    return buf.getvalue()


def write_reports(journal: Journal, src: Path, out_dir: Path, *, include_quotes: bool,
                  inputs: Iterable[tuple]) -> list[Path]:
    rows = build_rows(journal, list(inputs), out_dir, include_quotes=include_quotes)
    c = counts(rows)
    svg = coverage_svg(c) if c["processed"] else None
    generated = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    csv_path = atomic_write_text(out_dir / REPORT_CSV, render_csv(rows, include_quotes))
    html_path = atomic_write_text(out_dir / REPORT_HTML, render_html(
        rows, c, include_quotes=include_quotes, source=Path(src).name or str(src),
        generated=generated, svg=svg))
    return [csv_path, html_path]
