"""The soak's load generator, in a process of its own and without Django: simulated drivers and
customers, one thread each, over HTTP like the phones and browsers.

A driver sends a batch of positions every BATCH_EVERY_S (one point a second since its last
batch, at the phone's time) and drives its route: on the way to a stop, at the door, then the
delivery done (or, one in ten, failed with the account's reason), every step at its phone time.
Like the driver app, it keeps what it has to send in order with an Idempotency-Key each and sends
the oldest first: a request that fails is sent again (same key) RETRY_AFTER_S later, so nothing
is dropped. A customer opens the Last Mile page, polls its live part every LIVE_EVERY_S (the page
itself asks every 30 s: this is three times as often) and reloads the page every PAGE_EVERY_S.

Every request is recorded (start, duration, what, outcome); `python -m benchmarks.soak.load
PLAN.json OUT.json --url URL --start-at EPOCH --duration S` writes them with the count of points
made and acknowledged.
"""

import argparse
import json
import math
import random
import sys
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime

import requests

BATCH_EVERY_S = 5
LIVE_EVERY_S = 10
PAGE_EVERY_S = 60
RETRY_AFTER_S = 2
REQUEST_TIMEOUT_S = 30
# After the run the phones keep sending what they hold for at most this long.
FLUSH_FOR_S = 120
FAIL_SHARE = 0.1
# The app is reached through a TLS proxy in production; the proxy says so with this header.
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


def haversine_m(a, b):
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def iso(epoch):
    return datetime.fromtimestamp(epoch, UTC).isoformat()


class Recorder:
    """Every request as (start epoch, seconds, kind, outcome); outcome "ok" or what went wrong."""

    def __init__(self):
        self.rows = []

    def timed(self, session, kind, method, url, ok_statuses=(200,), **kwargs):
        started = time.time()
        try:
            response = session.request(method, url, timeout=REQUEST_TIMEOUT_S, **kwargs)
        except requests.RequestException as exc:
            self.rows.append((started, time.time() - started, kind, type(exc).__name__))
            return None
        outcome = "ok" if response.status_code in ok_statuses else str(response.status_code)
        self.rows.append((started, time.time() - started, kind, outcome))
        return response if outcome == "ok" else None


class DriverSim:
    def __init__(self, plan, *, base_url, reason_id, start_at, end_at, rng, recorder):
        self.plan = plan
        self.base = base_url + "/api/driver/v1/"
        self.reason_id = reason_id
        self.end_at = end_at
        self.recorder = recorder
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {plan['token']}", **PROXY_HEADERS})
        self.queue = deque()
        self.retry_at = 0.0
        self.points_made = 0
        self.acknowledged = {"accepted": 0, "duplicates": 0, "rejected": 0}
        self.steps_done = {}
        self.next_batch_at = start_at + rng.uniform(0, BATCH_EVERY_S)
        self.last_second = int(self.next_batch_at) - BATCH_EVERY_S
        self.rng = rng
        self.track, self.steps = self._timeline(start_at + rng.uniform(0, 20), end_at)

    def _timeline(self, begin, end_at):
        """[(t0, t1, from, to)] of where the driver is, and [(t, step, stop id, point)]."""
        rng = self.rng
        here = tuple(self.plan["start"])
        track, steps = [], []
        t = begin
        for stop in self.plan["stops"]:
            if t > end_at:
                break
            there = (stop["lat"], stop["lng"])
            steps.append((t, "start", stop["id"], here))
            drive_s = max(30.0, haversine_m(here, there) / rng.uniform(7, 12))
            track.append((t, t + drive_s, here, there))
            t += drive_s
            steps.append((t, "arrive", stop["id"], there))
            dwell_s = rng.uniform(20, 40)
            track.append((t, t + dwell_s, there, there))
            t += dwell_s
            outcome = "fail" if rng.random() < FAIL_SHARE and self.reason_id else "complete"
            steps.append((t, outcome, stop["id"], there))
            here = there
            t += 2
        track.append((t, math.inf, here, here))
        return track, deque(step for step in steps if step[0] <= end_at)

    def where(self, t):
        for t0, t1, a, b in self.track:
            if t < t1:
                if t <= t0 or a == b:
                    return a
                share = (t - t0) / (t1 - t0)
                return (a[0] + (b[0] - a[0]) * share, a[1] + (b[1] - a[1]) * share)
        return self.track[-1][3]

    def tick(self, now):
        if now < self.end_at and now >= self.next_batch_at:
            seconds = range(self.last_second + 1, min(int(now), self.last_second + 500) + 1)
            if seconds:
                points = []
                for second in seconds:
                    lat, lng = self.where(second)
                    points.append(
                        {
                            "recorded_at": iso(second),
                            "lat": round(lat, 7),
                            "lng": round(lng, 7),
                            "accuracy_m": 8.0,
                            "speed_mps": 8.0,
                            "battery_pct": 80,
                        }
                    )
                self.last_second = seconds[-1]
                self.points_made += len(points)
                self.queue.append(("positions", "positions", {"positions": points}))
            self.next_batch_at += BATCH_EVERY_S
        while self.steps and self.steps[0][0] <= now:
            t, step, stop_id, (lat, lng) = self.steps.popleft()
            body = {"recorded_at": iso(t), "lat": lat, "lng": lng}
            if step == "complete":
                body["receiver_name"] = "Cliente"
            elif step == "fail":
                body["reason_id"] = self.reason_id
            self.queue.append((f"step_{step}", f"stops/{stop_id}/{step}", body))
        if now >= self.retry_at:
            self.flush()

    def flush(self):
        while self.queue:
            kind, path, body = self.queue[0]
            key = body.setdefault("_key", uuid.uuid4().hex)
            payload = {name: value for name, value in body.items() if name != "_key"}
            response = self.recorder.timed(
                self.session,
                kind,
                "POST",
                self.base + path,
                json=payload,
                headers={"Idempotency-Key": key},
            )
            if response is None:
                self.retry_at = time.time() + RETRY_AFTER_S
                return
            self.queue.popleft()
            if kind == "positions":
                answer = response.json()
                for name in self.acknowledged:
                    self.acknowledged[name] += answer.get(name, 0)
            else:
                self.steps_done[kind] = self.steps_done.get(kind, 0) + 1

    def run(self):
        while True:
            now = time.time()
            # Steps due before the end are sent even when the phone fell behind (a slow answer).
            if now >= self.end_at and not self.queue and not self.steps:
                return
            if now >= self.end_at + FLUSH_FOR_S:
                return
            self.tick(now)
            time.sleep(max(0.05, 1 - (time.time() - now)))


class CustomerSim:
    def __init__(self, token, *, base_url, start_at, end_at, rng, recorder):
        self.page = f"{base_url}/t/{token}"
        self.live = self.page + "/live"
        self.start_at = start_at + rng.uniform(0, LIVE_EVERY_S)
        self.end_at = end_at
        self.recorder = recorder
        self.session = requests.Session()
        self.session.headers.update(PROXY_HEADERS)

    def run(self):
        time.sleep(max(0, self.start_at - time.time()))
        next_page = next_live = self.start_at
        while True:
            now = time.time()
            if now >= self.end_at:
                return
            if now >= next_page:
                self.recorder.timed(self.session, "page", "GET", self.page)
                next_page += PAGE_EVERY_S
                next_live = now + LIVE_EVERY_S
            elif now >= next_live:
                # The page's own refresh is an htmx request.
                self.recorder.timed(
                    self.session, "live", "GET", self.live, headers={"HX-Request": "true"}
                )
                next_live += LIVE_EVERY_S
            time.sleep(max(0.05, min(next_page, next_live) - time.time()))


def run(plan, *, base_url, start_at, duration_s, rng_seed=7):
    rng = random.Random(rng_seed)
    recorder = Recorder()
    end_at = start_at + duration_s
    drivers = [
        DriverSim(
            route,
            base_url=base_url,
            reason_id=plan["failure_reason_id"],
            start_at=start_at,
            end_at=end_at,
            rng=random.Random(rng.random()),
            recorder=recorder,
        )
        for route in plan["drivers"]
    ]
    customers = [
        CustomerSim(
            token,
            base_url=base_url,
            start_at=start_at,
            end_at=end_at,
            rng=random.Random(rng.random()),
            recorder=recorder,
        )
        for token in plan["customers"]
    ]
    threads = [
        threading.Thread(target=sim.run, daemon=True, name=f"sim-{n}")
        for n, sim in enumerate(drivers + customers)
    ]
    time.sleep(max(0, start_at - time.time()))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1, end_at + FLUSH_FOR_S + REQUEST_TIMEOUT_S + 5 - time.time()))
    steps = {}
    for driver in drivers:
        for kind, count in driver.steps_done.items():
            steps[kind] = steps.get(kind, 0) + count
    return {
        "start_at": start_at,
        "end_at": end_at,
        "finished_at": time.time(),
        "requests": recorder.rows,
        "points_made": sum(driver.points_made for driver in drivers),
        "points_made_by_driver": {str(d.plan["driver_id"]): d.points_made for d in drivers},
        "acknowledged": {
            name: sum(driver.acknowledged[name] for driver in drivers)
            for name in ("accepted", "duplicates", "rejected")
        },
        "unsent": sum(len(driver.queue) for driver in drivers),
        "steps_planned": sum(
            1 for driver in drivers for _t in driver.steps
        ),  # left in the timeline: should be 0
        "steps_done": steps,
        "alive_threads": sum(thread.is_alive() for thread in threads),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak.load")
    parser.add_argument("plan")
    parser.add_argument("out")
    parser.add_argument("--url", required=True)
    parser.add_argument("--start-at", type=float, required=True, help="epoch seconds")
    parser.add_argument("--duration", type=float, required=True, help="seconds")
    args = parser.parse_args(argv)
    with open(args.plan) as source:
        plan = json.load(source)
    result = run(
        plan, base_url=args.url.rstrip("/"), start_at=args.start_at, duration_s=args.duration
    )
    with open(args.out, "w") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
