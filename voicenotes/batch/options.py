"""What a batch is asked to do (:class:`BatchOptions`) and what it did (:class:`BatchSummary`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _env_float(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


@dataclass
class BatchOptions:
    out_dir: Path
    template: str | None = None
    jobs: int = 1
    model: str | None = None
    mode: str | None = None
    speakers: str | None = None   # None: auto, unseparated (and said so) without the models
    retry_failed: bool = False
    include_quotes: bool = False
    preset: str | None = None
    copy_audio: bool = False      # False: review pages play the original file (relative link)
    #: A worker whose memory grew by more than this since its first file is replaced by a fresh
    #: one after its current file (the transcription stack's native allocations creep upward
    #: in ~26 MB steps over hundreds of files; see scripts/bench_batch.py). 0 turns it off.
    recycle_mb: float = field(default_factory=lambda: _env_float("VOICENOTES_BATCH_RECYCLE_MB",
                                                                 100.0))
    cores: int | None = None      # None: the CPUs this process may use
    #: Seal each recording's folder (every file encrypted to the installation's key) before it
    #: is installed under its final name, so a finished folder never sits in the clear.
    seal: bool = False


@dataclass
class BatchSummary:
    inputs: int = 0
    unique: int = 0
    duplicates: int = 0
    done: int = 0
    partial: int = 0
    failed: int = 0
    skipped: int = 0             # finished in an earlier run
    skipped_failed: int = 0      # failed earlier, not retried (no --retry-failed)
    pending: int = 0             # left for the next run (stopped early)
    stopped_reason: str | None = None
    audio_s_processed: float = 0.0
    wall_s: float = 0.0
    report_paths: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # rel, class, message
    settings_changed: int = 0
    remade: int = 0              # finished earlier, but the output folder had gone
    recycled: int = 0            # workers replaced because their memory had grown


def job_settings(opts: BatchOptions, threads: int) -> dict[str, Any]:
    """The settings a job runs with, as the journal records them and the workers receive them."""
    return {"model": opts.model, "mode": opts.mode, "template": opts.template,
            "preset": opts.preset, "threads": threads, "jobs": opts.jobs,
            "copy_audio": opts.copy_audio, "speakers": opts.speakers}


def cpu_cores() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
