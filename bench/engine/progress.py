"""One progress bar per command, fed from the storage: it counts every worker's finished runs
(here and on other machines), so it reaches 100% and is drawn once, however many workers run."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from typing import Any

from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm


class StudyProgress:
    """`count()` returns (done, total) from the storage; `update` redraws, `close` ends the bar.
    Nothing is drawn when the study has nothing left to do."""

    def __init__(self, count: Callable[[], tuple[int, int]], desc: str, unit: str) -> None:
        self.count = count
        done, total = count()
        self.bar = None if done >= total else tqdm(total=total, initial=done, desc=desc, unit=unit)

    def update(self) -> None:
        if self.bar is not None:
            done, total = self.count()
            if (self.bar.total, self.bar.n) != (total, min(done, total)):
                self.bar.total, self.bar.n = total, min(done, total)
                self.bar.refresh()

    def watch(self, procs: Sequence[BaseProcess], interval: float = 2.0) -> None:
        """Redraw until every process has ended (the parent watches, the workers work)."""
        while any(p.is_alive() for p in procs):
            self.update()
            time.sleep(interval)

    def close(self) -> None:
        if self.bar is not None:
            done, total = self.count()
            self.bar.total, self.bar.n = total, min(done, total)
            self.bar.close()  # draws the final state once
            self.bar = None


@contextmanager
def warnings_above_bars() -> Iterator[None]:
    """Library warnings and log records (timm, torch) printed through tqdm.write, so they do not
    tear a bar."""
    shown = warnings.showwarning

    def show(message: Any, category: type, filename: str, lineno: int, *args: Any) -> None:
        tqdm.write(warnings.formatwarning(message, category, filename, lineno).rstrip())

    warnings.showwarning = show
    try:
        with logging_redirect_tqdm():
            yield
    finally:
        warnings.showwarning = shown
