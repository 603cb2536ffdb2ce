"""Command modules, one per area. Each defines ``register(app)``; keep top-level imports light."""

from voicenotes.cli import (
    batch,
    extract,
    models,
    note,
    record,
    speakers,
    transcribe,
)

# the order of `voicenotes --help`: the main job first, developer tools last
ALL = (note, record, transcribe, extract, batch, speakers, models)
