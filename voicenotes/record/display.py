"""The recorder's terminal side: stop and pause requests (single keys on a terminal, line
commands on a pipe, signals or the writer), and the live status line with a level meter."""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from typing import Any, Protocol

from voicenotes.record.clock import fmt_duration


class Controls:
    """Stop / pause requests from keys, lines on stdin, signals or the writer."""

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self.stop_reason: str | None = None
        self.pause_requests = 0
        self._lock = threading.Lock()

    def stop(self, reason: str) -> None:
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = reason
        self.stop_event.set()

    def toggle_pause(self) -> None:
        with self._lock:
            self.pause_requests += 1

    def take_pause_requests(self) -> int:
        with self._lock:
            n, self.pause_requests = self.pause_requests, 0
            return n


class KeyReader(Protocol):
    def poll(self) -> None: ...

    def close(self) -> None: ...


class TtyKeys:
    """Single keys without Enter (termios cbreak), restored on close."""

    def __init__(self, controls: Controls):
        import termios
        import tty

        self.controls = controls
        self.fd = sys.stdin.fileno()
        self._termios = termios
        self.saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)

    def poll(self) -> None:
        while True:
            r, _, _ = select.select([self.fd], [], [], 0)
            if not r:
                return
            ch = os.read(self.fd, 1)
            if not ch:
                self.controls.stop("input closed")
                return
            if ch in (b"\n", b"\r", b"q", b"s"):
                self.controls.stop("stopped by you")
            elif ch in (b"p", b"P", b" "):
                self.controls.toggle_pause()

    def close(self) -> None:
        self._termios.tcsetattr(self.fd, self._termios.TCSADRAIN, self.saved)


class LineCommands:
    """When stdin is not a terminal: a line ``p`` pauses/resumes; an empty line, ``q`` or
    ``stop`` stops; end of input stops."""

    def __init__(self, controls: Controls):
        self.controls = controls
        self.thread = threading.Thread(target=self._run, name="voicenotes-stdin", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.controls.stop_event.is_set():
            try:
                line = sys.stdin.readline()
            except (OSError, ValueError):
                line = ""
            if line == "":
                self.controls.stop("input closed")
                return
            cmd = line.strip().lower()
            if cmd in ("p", "pause", "resume"):
                self.controls.toggle_pause()
            elif cmd in ("", "q", "s", "stop"):
                self.controls.stop("stopped by you")
                return

    def poll(self) -> None:
        pass

    def close(self) -> None:
        pass


def open_keys(controls: Controls) -> KeyReader | None:
    """Keys on a terminal, line commands otherwise; None when stdin cannot be read."""
    try:
        return TtyKeys(controls) if sys.stdin.isatty() else LineCommands(controls)
    except Exception:
        return None


class Display:
    """The status line: redrawn in place on a terminal, a plain line every 30 s otherwise."""

    def __init__(self, stream: Any):
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = 0.2 if self.tty else 30.0
        self.last = 0.0
        self.width = 0

    @staticmethod
    def meter(db: float, width: int = 20) -> str:
        filled = int(round((min(0.0, max(-60.0, db)) + 60.0) / 60.0 * width))
        return "#" * filled + "-" * (width - filled)

    def show(self, elapsed: float, db: float, overflows: int, paused: bool) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        state = "PAUSED (off-record)" if paused else "REC"
        level = f"{db:5.0f} dB" if db > -90 else "  -- dB"
        if self.tty:
            line = (f"\r{state} {fmt_duration(elapsed)}  [{self.meter(db)}] {level}  "
                    f"overflows: {overflows}   Enter=stop  p=pause/resume")
            pad = max(0, self.width - len(line))
            self.width = len(line)
            self.stream.write(line + " " * pad)
        else:
            self.stream.write(f"{state} {fmt_duration(elapsed)}  level {level.strip()}  "
                              f"overflows: {overflows}\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own, starting below a status line being redrawn in place."""
        self.stream.write(("\n" if self.tty else "") + text + "\n")

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
