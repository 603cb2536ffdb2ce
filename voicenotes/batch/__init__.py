"""Folder runs: every recording in a folder through the same chain as ``voicenotes note``,
journaled, resumable, with failures isolated to their file and a supervision report at the end.

Modules, in the order a run uses them:

* :mod:`~voicenotes.batch.options` — :class:`BatchOptions` (what to do) and :class:`BatchSummary`
  (what was done).
* :mod:`~voicenotes.batch.inputs` — which files are recordings (the same discovery as every
  command), their content key and expected duration.
* :mod:`~voicenotes.batch.journal` — the SQLite journal of jobs and their states.
* :mod:`~voicenotes.batch.outputs` — the out folder: lock, temp sweep, folder names, checking and
  installing a finished folder.
* :mod:`~voicenotes.batch.worker` — the worker processes that run the chain, one file at a time.
* :mod:`~voicenotes.batch.failures` — exceptions as plain-words failure records.
* :mod:`~voicenotes.batch.pool` — hands files to the workers and records what comes back.
* :mod:`~voicenotes.batch.runner` — :class:`BatchRunner`: checks, lock, plan, pool, report.
* :mod:`~voicenotes.batch.report` — ``report.csv`` and ``report.html`` (rows in
  :mod:`~voicenotes.batch.report_rows`, the page in :mod:`~voicenotes.batch.report_html`).
"""

from voicenotes.batch.inputs import content_key, discover
from voicenotes.batch.journal import JOURNAL_NAME, Journal
from voicenotes.batch.options import BatchOptions, BatchSummary, cpu_cores
from voicenotes.batch.outputs import REPORT_CSV, REPORT_HTML, REQUIRED_OUTPUTS, sweep_tmp
from voicenotes.batch.runner import BatchRunner, run_batch

__all__ = [
    "BatchOptions", "BatchSummary", "BatchRunner", "Journal", "JOURNAL_NAME", "REPORT_CSV",
    "REPORT_HTML", "REQUIRED_OUTPUTS", "discover", "run_batch", "sweep_tmp", "cpu_cores",
    "content_key",
]
