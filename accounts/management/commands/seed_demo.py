"""Creates or refreshes a demo account so every feature has something to show."""

import contextlib
import json
import sys

from django.core.management.base import BaseCommand

from accounts import demo


class Command(BaseCommand):
    help = (
        "Creates or refreshes a demo account: users of every role, branches, partner, carrier, "
        "agency, drivers, vehicles, customers and services."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", default="demo", help="the account's slug (default: demo)")
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="print the credentials as one JSON object",
        )

    def handle(self, *args, account, as_json=False, **options):
        if as_json:
            # Messages to the demo's customers go out in-process without a worker; the console
            # backends would print them before the JSON, so they go to stderr.
            with contextlib.redirect_stdout(sys.stderr):
                output = demo.seed(slug=account)
        else:
            output = demo.seed(slug=account)
        if as_json:
            self.stdout.write(json.dumps(output, ensure_ascii=False))
            return
        self.stdout.write(
            self.style.SUCCESS(f"Demo account '{output['account']['slug']}' is ready.")
        )
        for user in output.get("users") or [
            {"role": r, **output[r]} for r in ("manager", "operator")
        ]:
            password = user["password"] or "(API only)"
            self.stdout.write(f"  {user['role']:<11} {user['email']}  password: {password}")
        if output.get("api_key"):
            self.stdout.write(f"  integration API key: {output['api_key']}")
        for driver in output["drivers"]:
            self.stdout.write(
                f"  driver      {driver['username']}  password: {driver['password']}"
                f"  vehicle: {driver['vehicle_plate']}"
            )
