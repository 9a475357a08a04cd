"""Command line: ``her2atlas demo-data --out data/demo``."""

from __future__ import annotations

import argparse
import sys

from .errors import Her2AtlasError


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``her2atlas`` command."""
    parser = argparse.ArgumentParser(prog="her2atlas", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo-data", help="write the synthetic demo cohorts")
    demo.add_argument("--out", default="data/demo", help="output folder (default data/demo)")
    check = sub.add_parser("check-manifest", help="check cohort manifests (with --data, their "
                           "files too) and list every problem in one table")
    from .manifest_check import add_arguments
    add_arguments(check)
    from . import discover, draft
    draft.add_parser(sub)
    discover.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "demo-data":
            from .demo import write_demo
            paths = write_demo(args.out)
            print(f"demo data: {len(paths)} files in {args.out} (synthetic)")
        elif args.command == "check-manifest":
            from .manifest_check import main as check_manifests
            return check_manifests(args)
        elif args.command == "draft":
            return draft.run(args)
        elif args.command == "discover":
            return discover.run(args)
    except Her2AtlasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
