"""`python -m bench.config key=value ...`: the resolved config of one run and its run id."""

from __future__ import annotations

import argparse
import json
import sys

from bench.config import ConfigError, parse_overrides, resolve
from bench.config.help import settings_help
from bench.config.protocols import departures
from bench.plugins import add_import_flag, load_plugins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.config",
        description=__doc__,
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("overrides", nargs="*", help="key=value settings")
    add_import_flag(parser)
    args = parser.parse_args(argv)
    try:
        load_plugins(args.plugins)
        parsed = parse_overrides(args.overrides)
        many = [k for k, v in parsed.items() if len(v) > 1 or k == "seeds"]
        if many:
            raise ConfigError(f"{many[0]} has several values: give one value per setting here.")
        cfg = resolve({k: v[0] for k, v in parsed.items()})
    except (ConfigError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        json.dumps({"run_id": cfg.run_id, **cfg.to_dict(), "departures": departures(cfg)}, indent=1)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
