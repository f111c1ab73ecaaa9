"""A progress display on stderr: each stage with its running time.

On a terminal the current stage's line ticks every second (the Terraform apply
of the instance takes minutes); otherwise (CI logs, pipes) each stage prints
one line when it starts and one when it ends. Stdout stays free for the report.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, live: bool | None = None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.timings: list[tuple[str, float, bool]] = []
        self._note = ""

    def note(self, text: str) -> None:
        """A short result shown at the end of the current stage's line (e.g. "0 changed")."""
        self._note = text

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self._note = ""
        started = time.monotonic()
        stop = threading.Event()
        ticker = None
        if self.live:
            ticker = threading.Thread(target=self._tick, args=(name, started, stop), daemon=True)
            ticker.start()
        else:
            self._write(f"  ... {name}\n")
        ok = False
        try:
            yield
            ok = True
        finally:
            stop.set()
            if ticker is not None:
                ticker.join()
            elapsed = time.monotonic() - started
            self.timings.append((name, elapsed, ok))
            mark = "ok" if ok else "FAILED"
            note = f"  {self._note}" if self._note and ok else ""
            self._write("\r\033[K" if self.live else "")
            self._write(f"  {mark:>6} {name} ({elapsed:.1f} s){note}\n")

    def _tick(self, name: str, started: float, stop: threading.Event) -> None:
        while not stop.wait(0 if time.monotonic() - started < 0.05 else 1.0):
            self._write(f"\r\033[K  ...    {name} ({time.monotonic() - started:.0f} s)")

    def summary(self) -> str:
        total = sum(t for _, t, _ in self.timings)
        parts = ", ".join(f"{name} {t:.1f}" for name, t, _ in self.timings)
        return f"{total:.1f} s in all ({parts})"

    def _write(self, text: str) -> None:
        if text:
            self.stream.write(text)
            self.stream.flush()
