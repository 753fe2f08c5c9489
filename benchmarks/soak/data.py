"""The soak's data, on the soak's own database: `seed` writes the day (an account, its drivers with
device tokens and a route in progress each, the customers whose pages are polled) and `tally`
reads what became of it (positions stored, every outbox message, ETAs, events, idempotency keys).

Run by the orchestrator as `python -m benchmarks.soak.data seed|tally OUT.json`, in a process of
its own with the soak's environment (DATABASE_URL, REDIS_URL, ...). The day goes through the
actions (service_create, route_create, route_start), as the back office would write it; only
the drivers' devices are written directly, since logging in 200 phones would spend a minute on
password hashing that the soak does not measure.
"""

import argparse
import json
import math
import os
import random
import secrets
import sys
import time
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracking.settings")

ACCOUNT_SLUG = "soak"
CENTRE = (-23.5505, -46.6333)
# The triggers the soak's agency sends (SMS and e-mail each): the ones a driver's steps and the
# ETAs fire during a route. The others stay off, so writing the day sends nothing.
NOTIFIED = ["delivery_started", "driver_arriving", "delivered", "delivery_failed"]


def _offset(point, metres, bearing_deg):
    lat, lng = point
    north = metres * math.cos(math.radians(bearing_deg))
    east = metres * math.sin(math.radians(bearing_deg))
    return (
        lat + north / 111_320,
        lng + east / (111_320 * math.cos(math.radians(lat))),
    )


def seed(*, drivers, stops_per_route, customers, rng_seed):
    """Writes the day and returns what the load generator needs (tokens, routes, stops)."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.defaults import account_load_defaults
    from accounts.devices import hash_token
    from accounts.models import (
        Account,
        Agency,
        Branch,
        Customer,
        Driver,
        DriverDevice,
        FailureReason,
        NotificationTemplate,
        Vehicle,
        VehicleType,
    )
    from accounts.notification_defaults import agency_create_default_templates
    from routes.actions import route_create, route_start
    from services.actions import Actor, service_create

    rng = random.Random(rng_seed)
    started = time.monotonic()
    with transaction.atomic():
        account = Account.objects.create(
            name="Soak Entregas",
            slug=ACCOUNT_SLUG,
            time_zone="America/Sao_Paulo",
            language="en",
            country="BR",
            position_interval_s=5,
            signature_required=False,
            photo_required=False,
        )
        account_load_defaults(account=account)
        branch = Branch.objects.create(
            account=account,
            name="Centro",
            city="São Paulo",
            state="SP",
            lat=CENTRE[0],
            lng=CENTRE[1],
        )
        agency = Agency.objects.create(account=account, name="Soak Express")
        agency_create_default_templates(agency=agency, language="en")
        templates = NotificationTemplate.objects.filter(agency=agency)
        templates.update(sms_enabled=False, email_enabled=False)
        templates.filter(trigger__in=NOTIFIED).update(sms_enabled=True, email_enabled=True)

        vehicles = Vehicle.objects.bulk_create(
            Vehicle(account=account, type=VehicleType.VAN, plate=f"SOK{n // 100}A{n % 100:02d}")
            for n in range(drivers)
        )
        driver_rows = Driver.objects.bulk_create(
            Driver(
                account=account,
                first_name=f"Driver{n:03d}",
                last_name="Soak",
                username=f"driver{n}",
                email=f"driver{n}@soak.example.com",
                branch=branch,
                vehicle=vehicles[n],
            )
            for n in range(drivers)
        )
        tokens = ["dt_" + secrets.token_urlsafe(32) for _ in driver_rows]
        DriverDevice.objects.bulk_create(
            DriverDevice(
                driver=driver,
                device_id=f"soak-{driver.pk}",
                name="soak",
                token_hash=hash_token(token),
            )
            for driver, token in zip(driver_rows, tokens, strict=True)
        )
        customer_rows = Customer.objects.bulk_create(
            Customer(
                account=account,
                name=f"Cliente {n:04d} Souza",
                phone=f"+55119{n:08d}",
                email=f"cliente{n}@soak.example.com",
                city="São Paulo",
                state="SP",
            )
            for n in range(drivers * stops_per_route)
        )
        reason = (
            FailureReason.objects.filter(
                account=account, is_active=True, opens_chat=False, requires_description=False
            )
            .order_by("pk")
            .first()
        )

    system = Actor.system("soak")
    now = timezone.now()
    plan = []
    for n, driver in enumerate(driver_rows):
        # Each route starts at the branch and visits stops a few hundred metres apart.
        start = CENTRE
        point = _offset(start, rng.uniform(600, 1500), rng.uniform(0, 360))
        services = []
        for k in range(stops_per_route):
            customer = customer_rows[n * stops_per_route + k]
            services.append(
                service_create(
                    account=account,
                    actor=system,
                    values={
                        "customer": customer,
                        "agency": agency,
                        "branch": branch,
                        "order_number": f"SOAK-{n:03d}-{k}",
                        "street": "Rua Augusta",
                        "number": str(100 + k),
                        "city": "São Paulo",
                        "state": "SP",
                        "lat": point[0],
                        "lng": point[1],
                        "deadline": now + timedelta(days=1),
                        "service_time_min": 5,
                    },
                )
            )
            point = _offset(point, rng.uniform(400, 900), rng.uniform(0, 360))
        route = route_create(
            account=account,
            actor=system,
            driver=driver,
            vehicle=driver.vehicle,
            day=account.today(),
            services=services,
            branch=branch,
        )
        route_start(route=route, actor=Actor.for_driver(driver), recorded_at=now, point=start)
        stops = list(route.stops.select_related("service").order_by("sequence"))
        plan.append(
            {
                "driver_id": driver.pk,
                "token": tokens[n],
                "route_id": route.pk,
                "start": list(start),
                "stops": [
                    {
                        "id": stop.pk,
                        "lat": stop.service.lat,
                        "lng": stop.service.lng,
                        "tracking_token": stop.service.tracking_token,
                    }
                    for stop in stops
                ],
            }
        )
    # The customers who watch their page: the second stop of the first routes, so that their
    # delivery is under way during the run (the page polls its live part then).
    watched = [
        route["stops"][min(1, stops_per_route - 1)]["tracking_token"] for route in plan[:customers]
    ]
    return {
        "account_id": account.pk,
        "failure_reason_id": reason.pk if reason else None,
        "drivers": plan,
        "customers": watched,
        "seed_s": round(time.monotonic() - started, 1),
    }


def tally():
    """What the database holds after the run, for the soak's invariants."""
    from django.db.models import Count, Min

    from accounts.models import Account, IdempotencyKey
    from lastmile.models import OutboxMessage
    from routes.models import Position, Route, RouteStatus
    from services.models import ServiceEvent

    account = Account.objects.get(slug=ACCOUNT_SLUG)
    messages = [
        {
            "id": row["pk"],
            "channel": row["channel"],
            "trigger": row["trigger"],
            "status": row["status"],
            "tries": row["tries"],
            "provider_id": row["provider_id"],
            "created_at": row["created_at"].timestamp(),
            "sent_at": row["sent_at"].timestamp() if row["sent_at"] else None,
            "error": (row["error"] or "")[:200],
        }
        for row in OutboxMessage.objects.filter(account=account)
        .order_by("pk")
        .values(
            "pk",
            "channel",
            "trigger",
            "status",
            "tries",
            "provider_id",
            "created_at",
            "sent_at",
            "error",
        )
    ]
    positions = Position.objects.filter(account=account)
    live = Route.objects.filter(account=account, status=RouteStatus.IN_PROGRESS)
    oldest_eta = live.aggregate(oldest=Min("eta_refreshed_at"))["oldest"]
    return {
        "positions_stored": positions.count(),
        "positions_by_driver": dict(
            positions.values_list("driver_id").annotate(n=Count("pk")).values_list("driver_id", "n")
        ),
        "positions_without_route": positions.filter(route__isnull=True).count(),
        "messages": messages,
        "routes_in_progress": live.count(),
        "oldest_eta_refresh": oldest_eta.timestamp() if oldest_eta else None,
        "events_undispatched": ServiceEvent.objects.filter(
            account=account, dispatched_at__isnull=True
        ).count(),
        "idempotency_in_progress": IdempotencyKey.objects.filter(
            caller__startswith="driver:", status_code__isnull=True
        ).count(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak.data")
    parser.add_argument("command", choices=["seed", "tally"])
    parser.add_argument("out", help="where the JSON answer is written")
    parser.add_argument("--drivers", type=int, default=200)
    parser.add_argument("--stops", type=int, default=6)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)

    import django

    django.setup()
    if args.command == "seed":
        result = seed(
            drivers=args.drivers,
            stops_per_route=args.stops,
            customers=args.customers,
            rng_seed=args.seed,
        )
    else:
        result = tally()
    with open(args.out, "w") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
