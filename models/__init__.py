"""The model registry, installed as ``voicenotes._registry`` (see pyproject's package-dir).

``models/registry.json`` is the single source of truth; ``voicenotes.models`` reads it with
importlib.resources. Installed model payloads live in the model store, never here.
"""
