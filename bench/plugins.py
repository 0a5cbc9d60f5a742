"""A user's own parts, from outside the package: modules that register attentions, neurons,
stems, residuals, datasets or search spaces when imported.

Three ways, all imported before any setting is parsed: `--import MODULE` (repeatable) on every
command, the environment variable SPIKFORMER_BENCH_PLUGINS (comma-separated modules) and the
entry-point group `spikformer_bench.parts` of installed packages. A study records the modules it
used; every worker, here or on another machine, imports them before it pops a trial.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
from collections.abc import Iterable

__all__ = ["ENTRY_POINT_GROUP", "ENV", "add_import_flag", "load_plugins"]

ENV = "SPIKFORMER_BENCH_PLUGINS"
ENTRY_POINT_GROUP = "spikformer_bench.parts"
_loaded: dict[str, None] = {}  # modules imported by this process, in order


def _entry_point_modules() -> list[str]:
    return [
        ep.value.split(":", 1)[0] for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    ]


def load_plugins(modules: Iterable[str] = ()) -> list[str]:
    """Import the entry points, the environment's modules and `modules`; return every plugin
    module this process has imported. ValueError with one sentence when one cannot be."""
    wanted = [*_entry_point_modules(), *filter(None, os.environ.get(ENV, "").split(",")), *modules]
    for name in (m.strip() for m in wanted):
        if not name or name in _loaded:
            continue
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ValueError(
                f"Plugin module '{name}' cannot be imported ({err}); install the package that "
                f"holds it (pip install -e PATH) or add its folder to PYTHONPATH on this machine."
            ) from None
        _loaded[name] = None
    return list(_loaded)


def add_import_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--import",
        dest="plugins",
        action="append",
        default=[],
        metavar="MODULE",
        help=f"import MODULE first: it registers your own parts (repeatable; also ${ENV} and "
        f"the entry-point group {ENTRY_POINT_GROUP})",
    )
