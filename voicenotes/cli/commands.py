"""Command modules, one per area. Each defines ``register(app)``; keep top-level imports light."""

from voicenotes.cli import (
    audit,
    batch,
    export,
    extract,
    keys,
    models,
    note,
    purge,
    record,
    review,
    seal,
    speakers,
    transcribe,
)

# the order of `voicenotes --help`: the main job first, developer tools last
ALL = (note, review, export, record, seal, purge, keys, transcribe, extract, batch, speakers,
       models, audit)
