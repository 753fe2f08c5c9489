"""Drives the demo's drivers through today's routes over the real HTTP driver API, so the demo
shows moving drivers, changing stops and ETAs.

Each driver logs in like the app, starts the route, and moves stop by stop as routes.simulation
draws it (personal pace, traffic by hour, time on site, GPS noise, some failures), sending
positions in batches and every step with an Idempotency-Key; a request that gets no answer is
retried with the same key, as a phone would.

Time runs `--speedup` times faster than the clock. Phone times must stay plausible (the server
refuses points from the future and points that imply impossible speeds), so with a speedup the
simulated day is placed so that it ends when the last request is sent: phone time =
start + t - D * (1 - 1/speedup), for an event t seconds into a day of D seconds. At 1 (the
default) phone times are the real clock and the drivers look live on the tracking page.
"""

import random
import threading
import time
import uuid
from datetime import datetime, timedelta

import requests
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Account
from routes import simulation
from routes.matrix import DEFAULT_SPEED_KMH
from routes.models import Route, RouteStatus

DEMO_PASSWORD = "demo-driver"  # noqa: S105 (the demo's published password)
BATCH_EVERY = 4  # positions sent per request: the app buffers them between sends


class DriverClient:
    """The driver API as the app uses it."""

    def __init__(self, base_url, *, retries=3):
        self.base = base_url.rstrip("/") + "/api/driver/v1/"
        self.session = requests.Session()
        self.retries = retries

    def request(self, method, path, **kwargs):
        headers = kwargs.pop("headers", {})
        if method == "POST":
            headers.setdefault("Idempotency-Key", uuid.uuid4().hex)
        for attempt in range(self.retries + 1):
            try:
                response = self.session.request(
                    method, self.base + path, headers=headers, timeout=15, **kwargs
                )
            except requests.ConnectionError:
                if attempt == self.retries:
                    raise
                time.sleep(1 + attempt)
                continue
            if response.status_code >= 500 and attempt < self.retries:
                time.sleep(1 + attempt)
                continue
            return response
        return None

    def log_in(self, login, password, device_id):
        response = self.request(
            "POST",
            "auth/token",
            json={"username": login, "password": password, "device_id": device_id,
                  "device_name": "simulate"},
        )  # fmt: skip
        if response.status_code != 200:
            raise CommandError(f"{login}: login refused ({response.status_code}): {response.text}")
        self.session.headers["Authorization"] = f"Bearer {response.json()['token']}"

    def post(self, path, payload):
        return self.request("POST", path, json=payload)

    def get(self, path, **params):
        return self.request("GET", path, params=params)


class Command(BaseCommand):
    help = "Drives the demo's drivers through today's routes over the HTTP driver API."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server")
        parser.add_argument("--account", default="demo", help="the account's slug")
        parser.add_argument("--password", default=DEMO_PASSWORD, help="the drivers' password")
        parser.add_argument("--routes", type=int, default=10, help="at most this many routes")
        parser.add_argument(
            "--speedup", type=float, default=1, help="simulated seconds per real second"
        )
        parser.add_argument("--fail-rate", type=float, default=0.1, help="share of failures")
        parser.add_argument("--seed", type=int, default=None, help="random seed")

    def handle(self, *args, url, account, password, routes, speedup, fail_rate, seed, **options):
        account_row = Account.objects.filter(slug=account).first()
        if account_row is None:
            raise CommandError(f"No account '{account}': run `manage.py seed_demo` first.")
        today = account_row.today()
        planned = list(
            Route.objects.filter(account=account_row, date=today, status=RouteStatus.PLANNED)
            .select_related("driver", "vehicle")
            .order_by("pk")
        )
        by_driver = {}
        for route in planned:  # one route at a time per driver
            by_driver.setdefault(route.driver_id, route)
        chosen = list(by_driver.values())[:routes]
        if not chosen:
            raise CommandError(
                f"No planned route today ({today}) in '{account}': build one on /routes/ "
                "or run `manage.py seed_demo` on a new day."
            )
        rng = random.Random(seed)
        self.stdout.write(
            f"Driving {len(chosen)} route(s) at {speedup}× against {url} (Ctrl-C to stop)."
        )
        threads = [
            threading.Thread(
                target=self._drive,
                args=(url, account_row, route, password, speedup, fail_rate, rng.random()),
                daemon=True,
            )
            for route in chosen
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(timeout=0.5)
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
            return
        self.stdout.write(self.style.SUCCESS("Every route finished."))

    def _drive(self, url, account, route, password, speedup, fail_rate, seed):
        driver = route.driver
        label = f"{account.slug}.{driver.username}"
        try:
            self._run(url, account, route, password, speedup, fail_rate, seed, label)
        except Exception as exc:  # one driver's trouble must not stop the others
            self.stderr.write(f"{label}: stopped: {exc}")

    def _run(self, url, account, route, password, speedup, fail_rate, seed, label):
        client = DriverClient(url)
        client.log_in(label, password, device_id=f"simulate-{route.driver_id}")
        me = client.get("me").json()
        interval = int(me.get("settings", {}).get("position_interval_s") or 30)
        data = client.get(f"routes/{route.pk}").json()
        reasons = client.get("failure-reasons").json().get("items", [])
        stops = [
            simulation.SimStop(
                id=stop["id"],
                point=(stop["service"]["address"]["lat"], stop["service"]["address"]["lng"]),
                service_s=300,
            )
            for stop in data["stops"]
            if stop["status"] == "pending" and stop["service"]["address"].get("lat") is not None
        ]
        start = (
            (route.start_lat, route.start_lng) if route.start_lat is not None else stops[0].point
        )
        rng = random.Random(seed)
        sim_driver = simulation.Driver.drawn(
            rng,
            speed_kmh=route.vehicle.speed_kmh or DEFAULT_SPEED_KMH.get(route.vehicle.type, 25),
            fail_rate=fail_rate if reasons else 0,
            position_interval_s=interval,
        )
        local = timezone.localtime(timezone.now(), account.tzinfo)
        events = simulation.drive(
            sim_driver, start, stops, start_hour=local.hour + local.minute / 60
        )
        self.stdout.write(f"{label}: {len(stops)} stops, pace {sim_driver.pace:.2f}")
        began, began_at = time.monotonic(), timezone.now()
        shift = events[-1].t * (1 - 1 / speedup)

        def phone_time(event):
            return (began_at + timedelta(seconds=event.t - shift)).isoformat()

        batch = []
        for event in events:
            wait = began + event.t / speedup - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if event.kind == "position":
                batch.append(
                    {"recorded_at": phone_time(event), "lat": event.point[0],
                     "lng": event.point[1], "accuracy_m": 8,
                     "battery_pct": max(5, 100 - int(event.t / 600))}
                )  # fmt: skip
                if len(batch) >= BATCH_EVERY:
                    self._send_positions(client, batch, label)
                    batch = []
                continue
            if batch:
                self._send_positions(client, batch, label)
                batch = []
            self._step(client, route, event, reasons, rng, label, phone_time(event))

    def _send_positions(self, client, batch, label):
        response = client.post("positions", {"positions": batch})
        counts = response.json() if response.status_code == 200 else {}
        if response.status_code != 200 or counts.get("rejected"):
            self.stderr.write(f"{label}: positions refused: {response.text[:200]}")

    def _step(self, client, route, event, reasons, rng, label, recorded_at):
        where = {"recorded_at": recorded_at, "lat": event.point[0], "lng": event.point[1]}
        if event.kind == "route_start":
            response = client.post(f"routes/{route.pk}/start", where)
        elif event.kind == "route_finish":
            response = client.post(f"routes/{route.pk}/finish", where)
        elif event.kind == "stop_start":
            response = client.post(f"stops/{event.stop_id}/start", where)
        elif event.kind == "stop_arrive":
            response = client.post(f"stops/{event.stop_id}/arrive", where)
        elif event.kind == "stop_complete":
            response = client.post(
                f"stops/{event.stop_id}/complete",
                {**where, "receiver_name": "Cliente", "receiver_document": "", "comment": "",
                 "barcodes": []},
            )  # fmt: skip
        else:
            reason = rng.choice(reasons)
            response = client.post(
                f"stops/{event.stop_id}/fail",
                {**where, "reason_id": reason["id"], "description": "Simulated failure."},
            )
        if response is not None and response.status_code >= 400:
            self.stderr.write(
                f"{label}: {event.kind} refused ({response.status_code}): {response.text[:200]}"
            )
        else:
            self.stdout.write(f"{label}: {event.kind.replace('_', ' ')} {datetime.now():%H:%M:%S}")
