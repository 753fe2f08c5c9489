"""`python -m benchmarks.soak`: runs the soak and writes benchmarks/results/soak.json; exits 1
when an invariant does not hold."""

import argparse
import sys

from .run import main


def parse(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak")
    parser.add_argument("--duration", type=float, default=300, help="seconds of load")
    parser.add_argument("--drivers", type=int, default=200)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--stops", type=int, default=6, help="stops per route")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn's sync workers")
    parser.add_argument("--worker-concurrency", type=int, default=4, help="Celery's pool size")
    parser.add_argument("--keep", action="store_true", help="keep the logs' directory")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(parse()))
