"""Command modules, one per area. Each defines ``register(app)``; keep top-level imports light."""

from voicenotes.commands import (
    batch,
    extract,
    models,
    note,
    record,
    speakers,
    transcribe,
)

ALL = (transcribe, models, extract, note, record, batch, speakers)
