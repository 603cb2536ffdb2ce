"""The recordings a batch works on: discovery, the content key, and the expected duration."""

from __future__ import annotations

import re
from pathlib import Path

from voicenotes.audio import find_inputs, probe
from voicenotes.errors import InputError
from voicenotes.store import sha256_file

_PART_RE = re.compile(r"^session-\d{4}\.wav$", re.IGNORECASE)
JOINED_NAME = "session-all.wav"


def discover(src: Path, out_dir: Path | None = None) -> list[Path]:
    """The audio/video files under ``src`` as every command finds them
    (:func:`voicenotes.audio.find_inputs`: hidden and ``.tmp-*`` files, non-regular files and
    everything under ``out_dir`` skipped), sorted by relative path, without the parts of a
    joined recording (:func:`drop_joined_parts`)."""
    src = Path(src)
    found = find_inputs([src], outputs_to_skip=[out_dir] if out_dir is not None else [])
    found.sort(key=lambda q: q.relative_to(src).as_posix())
    return drop_joined_parts(found)


def drop_joined_parts(paths: list[Path]) -> list[Path]:
    """In a ``voicenotes record`` folder (it holds ``recording.json``) whose parts were joined
    into ``session-all.wav``, the whole session is that file: its ``session-NNNN.wav`` parts are
    not separate recordings and are left out (they stay on disk)."""
    joined = {p.parent for p in paths if p.name.lower() == JOINED_NAME
              and (p.parent / "recording.json").is_file()}
    if not joined:
        return paths
    return [p for p in paths if not (p.parent in joined and _PART_RE.match(p.name))]


def content_key(path: Path) -> str:
    """The key a recording is journaled under: the sha256 of its bytes."""
    return sha256_file(path)


def expected_duration(path: Path) -> tuple[float | None, BaseException | None]:
    """Expected duration in seconds from the container (None if unknown), or the error that
    says the file is not usable audio."""
    try:
        info = probe(path, check_channels_s=None)
    except InputError as exc:
        return None, exc
    except Exception:
        return None, None
    d = info.container_duration_s or info.duration_s
    return (float(d) if d else None), None
