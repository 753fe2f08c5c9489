"""Runs the benchmarks: `make bench` (or `python -m benchmarks [name ...]`).

Each benchmark measures the project's code and a baseline in the same run on the same machine, and
prints the ratio, so results compare across machines. Uses a throw-away test database.
"""

import argparse
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracking.settings")


def main(argv=None):
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    from benchmarks import (
        dashboard,
        eta,
        ingest,
        lastmile,
        optimizer,
        outbox,
        pages,
        reports,
        service_import,
    )

    available = {
        "pages": pages.run,
        "service_import": service_import.run,
        "optimizer": optimizer.run,
        "eta": eta.run,
        "dashboard": dashboard.run,
        "ingest": ingest.run,
        "lastmile": lastmile.run,
        "outbox": outbox.run,
        # Last: it leaves million-row tables behind, which autovacuum works through for minutes,
        # taking CPU from the throughput benchmarks if they came after it.
        "reports": reports.run,
    }
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(available)}")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(available)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    setup_test_environment()
    settings.CELERY_TASK_ALWAYS_EAGER = True
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        for name in args.names or available:
            available[name]()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
