"""Command modules, one per area. Each defines ``register(app)``; keep top-level imports light."""

from voicenotes.cli import (
    batch,
    export,
    extract,
    models,
    note,
    record,
    review,
    speakers,
    transcribe,
)

# the order of `voicenotes --help`: the main job first, developer tools last
ALL = (note, review, export, record, transcribe, extract, batch, speakers, models)
