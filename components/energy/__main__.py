"""`python -m components.energy ...` is `python -m bench.energy ...` (the command lives in bench,
which may read run folders and datasets); `--checkpoint RUN_DIR` is the run folder."""

import runpy
import sys

argv = sys.argv[1:]
if "--checkpoint" in argv:  # the old spelling: --checkpoint RUN_DIR
    i = argv.index("--checkpoint")
    argv = argv[i + 1 : i + 2] + argv[:i] + argv[i + 2 :]
sys.argv = ["python -m bench.energy", *argv]
runpy.run_module("bench.energy", run_name="__main__", alter_sys=True)
