"""Input discovery: files and folders -> the list of recordings to process.

The one discovery every command uses, so ``transcribe DIR`` and ``batch DIR`` pick the same
files. Folders are walked without opening anything (a FIFO would hang the walk), symlink loops
end, and the order is the same for the same tree on every run.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from voicenotes.audio.files import stat_error

AUDIO_EXTENSIONS = frozenset({
    # audio
    "wav", "wave", "flac", "mp3", "m4a", "m4b", "aac", "ogg", "oga", "opus", "wma", "aiff",
    "aif", "aifc", "caf", "amr", "awb", "ac3", "mka", "spx", "au", "snd", "w64", "rf64", "ape",
    "wv", "mp2", "gsm", "3ga",
    # video with a sound track
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "3gp", "3g2", "wmv", "asf", "flv", "mpg", "mpeg",
    "ts", "mts", "m2ts", "vob", "ogv",
})


def is_audio_name(path: Path) -> bool:
    """True when the file name has one of :data:`AUDIO_EXTENSIONS` (case-insensitive)."""
    return path.suffix[1:].lower() in AUDIO_EXTENSIONS


def _real(path: Path) -> Path:
    """The resolved path (the absolute one when resolving fails)."""
    try:
        return Path(os.path.realpath(path))
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def _under(path: Path, roots: Sequence[Path]) -> bool:
    """True when ``path`` is one of ``roots`` or lies inside one."""
    return any(path == root or root in path.parents for root in roots)


def find_inputs(paths: Iterable[str | os.PathLike], *,
                outputs_to_skip: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """Expand files and folders into the list of inputs to process.

    * Paths are kept in the order given; a folder is searched recursively (following links to
      folders, each real folder visited once, so link loops end) and its audio files are added
      in sorted path order. The result is the same for the same tree on every run.
    * Inside folders only names with an :data:`AUDIO_EXTENSIONS` extension count; hidden files
      (``.name``, which includes interrupted ``.tmp-*`` writes and macOS ``._name`` shadows),
      non-regular files (FIFOs, devices, sockets), broken links and link loops are skipped
      without opening them.
    * A file named explicitly is kept whatever its extension (:func:`probe` decides); an explicit
      FIFO/device/link loop is kept too so that :func:`probe` can say what is wrong with it.
    * ``outputs_to_skip``: files or folders (e.g. the ``--out`` folder) that a folder search
      must not take input from. Only what lies *inside* the searched folder is skipped: with
      ``--out`` equal to (or above) the input folder the search still runs, and a file named
      explicitly is always kept.
    * The same real file is listed once. A missing path raises :class:`AudioError`.
    """
    skip_all = [_real(Path(p)) for p in outputs_to_skip]
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path, skip: Sequence[Path] = ()) -> None:
        real = _real(p)
        if real in seen or _under(real, skip):
            return
        seen.add(real)
        out.append(p)

    for raw in paths:
        p = Path(raw)
        try:
            st = os.stat(p)
        except OSError as exc:
            if exc.errno == errno.ELOOP or (exc.errno == errno.ENOENT and os.path.lexists(p)):
                add(p)  # probe() gives the plain reason
                continue
            raise stat_error(p, exc) from None
        if stat.S_ISDIR(st.st_mode):
            root = _real(p)
            skip = [q for q in skip_all if q != root and q not in root.parents]
            for f in _walk_folder(p, skip):
                add(f, skip)
        else:
            add(p)
    return out


def _walk_folder(root: Path, skip: Sequence[Path]) -> list[Path]:
    """The audio files under ``root`` (not inside ``skip``), each real folder visited once."""
    found: list[Path] = []
    visited: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=None):
        try:
            dst = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        key = (dst.st_dev, dst.st_ino)
        if key in visited or _under(_real(Path(dirpath)), skip):
            dirnames[:] = []
            continue
        visited.add(key)
        dirnames[:] = _subfolders(Path(dirpath), dirnames)
        found.extend(_audio_files(Path(dirpath), filenames))
    found.sort(key=lambda q: q.relative_to(root).parts)
    return found


def _subfolders(folder: Path, names: list[str]) -> list[str]:
    """The sub-folders worth walking, sorted: not hidden, not a link back up the tree."""
    here = _real(folder)
    keep = []
    for d in sorted(names):
        if d.startswith("."):
            continue
        sub = folder / d
        if os.path.islink(sub):
            target = _real(sub)
            if target == here or target in here.parents:
                continue  # a link back up the tree: a loop, not more recordings
        keep.append(d)
    return keep


def _audio_files(folder: Path, names: list[str]) -> list[Path]:
    """Regular files with an audio name; hidden names (which include interrupted ``.tmp-*``
    writes and macOS ``._name`` shadows) and anything that is not a regular file are skipped
    without opening them."""
    found = []
    for name in names:
        if name.startswith("."):
            continue
        f = folder / name
        if not is_audio_name(f):
            continue
        try:
            fst = os.stat(f)  # follows links; never opens
        except OSError:
            continue  # broken link, link loop, vanished
        if stat.S_ISREG(fst.st_mode):
            found.append(f)
    return found
