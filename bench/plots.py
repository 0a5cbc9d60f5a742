"""`python -m bench.plots`: regenerate runs.csv, stats.csv, every plot and report.md of stored
studies from their records (no training).

    python -m bench.plots                            # every study folder under results/
    python -m bench.plots results/published/<study>  # one study (committed ones included)
    python -m bench.plots --latex results/<study>    # also results.tex and stats.tex
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.refresh import refresh
from bench.report.latex import write_latex
from bench.results import StudyError, load_study


def study_dirs(args: Sequence[str], root: Path = Path("results")) -> list[Path]:
    """The folders named, or every study folder directly under `root` (committed studies in
    results/published/ only when named: no command rewrites them unless told)."""
    if args:
        return [Path(a) for a in args]
    found = sorted(p.parent for p in root.glob("*/study.json"))
    if not found:
        raise StudyError(
            f"no study folder (with a study.json) under {root.resolve()}; run bench.ablate or "
            "bench.search first, or pass a study folder such as results/published/<study>."
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.plots",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("studies", nargs="*", help="study folders (results/<study>)")
    parser.add_argument(
        "--latex",
        action="store_true",
        help="also write results.tex and stats.tex (booktabs tables) into each study folder",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        dirs = study_dirs(args.studies)
        for d in dirs:
            load_study(d)  # check every folder before writing anything
    except StudyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"regenerating {len(dirs)} stud{'y' if len(dirs) == 1 else 'ies'}: "
        f"{', '.join(map(str, dirs))}"
    )
    for d in dirs:
        written = refresh(d)
        if args.latex:
            written.update(write_latex(d))
        print(f"{d}:")
        for what, path in written.items():
            print(f"  {what:<28} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
