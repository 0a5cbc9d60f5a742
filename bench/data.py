"""`python -m bench.data NAME [key=value ...] [--json] [--verify]`: describe or check a dataset.

Prints where the data is, the split sizes and rule, input shape, classes and frames (the
`bundle.info` of `bench.datasets.load_data`). `--verify` also reads every recording / image file
and names the corrupt ones (exit 1 if any). Keys are load_data's arguments and the dataset's own
options; values are parsed like every other setting of the suite (bench.config.parse_value).
The datasets themselves live in `bench.datasets`.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from typing import Any

from bench.config import parse_value
from bench.datasets import DATASETS, DataBundle, DataError, load_data, verify

_SKIP = ("name", "options", "req")


def _annotations(function: Any) -> dict[str, str]:
    """Parameter -> annotation text (annotations are strings under `from __future__`)."""
    return {
        k: str(p.annotation)
        for k, p in inspect.signature(function).parameters.items()
        if k not in _SKIP
    }


_KEYS = _annotations(load_data)


def dataset_options(name: str) -> list[str]:
    """The dataset's own options (beyond load_data's common arguments)."""
    return list(_annotations(DATASETS.get(name)))


def _typed(key: str, text: str, annotation: str) -> Any:
    if "PathLike" in annotation:  # a path stays text, whatever it looks like
        return text
    value = parse_value(text)
    kinds = set(annotation.replace(" ", "").split("|"))
    if value is None and "None" in kinds:
        return value
    if "bool" in kinds and not isinstance(value, bool):
        raise ValueError(f"{key}={text} is not a boolean; use {key}=true or {key}=false.")
    if "int" in kinds and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{key}={text} is not an integer; give a whole number.")
    if kinds <= {"str", "None"}:
        return str(value)
    return value


def parse_settings(name: str, overrides: list[str]) -> dict[str, Any]:
    """['batch_size=32', 'method=time'] -> {'batch_size': 32, 'method': 'time'}, checked."""
    keys = {**_KEYS, **_annotations(DATASETS.get(name))}
    out: dict[str, Any] = {}
    for text in overrides:
        key, sep, value = text.partition("=")
        if not sep or key not in keys:
            raise ValueError(
                f"Cannot use '{text}': give key=value with key one of {', '.join(keys)}."
            )
        out[key] = _typed(key, value, keys[key])
    return out


def describe(bundle: DataBundle, as_json: bool) -> str:
    info = bundle.info
    if as_json:
        return json.dumps(info, indent=2)
    width = max(len(k) for k in info)
    return "\n".join(
        f"{key:<{width}}  {json.dumps(value) if isinstance(value, dict | list) else value}"
        for key, value in info.items()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.data",
        description="Describe a dataset: where it is, split sizes, input shape, classes, frames.",
    )
    parser.add_argument("name", help=f"one of: {', '.join(DATASETS.names())}")
    parser.add_argument("overrides", nargs="*", help=f"key=value, keys: {', '.join(_KEYS)}")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--verify", action="store_true", help="read every recording / image and name bad ones"
    )
    args = parser.parse_args(argv)
    try:
        DATASETS.check(args.name)
        bundle = load_data(args.name, **parse_settings(args.name, args.overrides))
    except (DataError, KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.verify:
        checked, bad = verify(bundle)
        bundle.info["verified"] = checked
        bundle.info["corrupt"] = [source for source, _ in bad]
    print(describe(bundle, args.json))
    if args.verify:
        for _, reason in bad:
            print(f"corrupt: {reason}", file=sys.stderr)
        if not args.json:
            print(f"verified {checked} files: {len(bad)} corrupt")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
