"""`python -m bench.models [--json]`: every model preset with its exact parameter count."""

from __future__ import annotations

import argparse
import json

from components import list_models


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.models", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print a JSON list of objects")
    args = parser.parse_args(argv)
    rows = list_models()
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    header = f"{'name':<18} {'dataset':<15} {'depth-dim':>9} {'heads':>5} {'T':>3} {'tokens':>6}"
    print(f"{header} {'params':>12} {'paper':>7}")
    for r in rows:
        print(
            f"{r['name']:<18} {r['dataset']:<15} {r['depth']:>4}-{r['dim']:<4} {r['heads']:>5} "
            f"{r['T']:>3} {r['tokens']:>6} {r['params']:>12,} {r['paper_params'] or '-':>7}"
        )


if __name__ == "__main__":
    main()
