"""Simulated drivers: how a real day differs from the plan, for the demo (`manage.py simulate`
drives them through the HTTP driver API) and for measuring ETAs (benchmarks).

A driver runs the stops in order from the route's start. What makes the day differ from the
planned constant-speed day, each drawn from a seeded random generator:
- a personal pace (some drivers are 20% faster or slower than the vehicle's nominal speed);
- traffic that varies through the day (slow at the morning and evening peaks, fast at night);
- time on site that varies by stop around the planned service time (log-normal: mostly close,
  sometimes much longer, never negative);
- GPS noise of a few metres on every position;
- some deliveries fail.

Pure Python: `drive()` returns the timeline of what the phone would send, in seconds from the
route's start; callers decide how to play it (in real time, sped up, or all at once).
"""

import itertools
import math
import random
from dataclasses import dataclass, field

from tracking.lib.geo import haversine_m

from .matrix import DEFAULT_DETOUR_FACTOR

EARTH_M_PER_DEG = 111_320


@dataclass(frozen=True)
class SimStop:
    id: object
    point: tuple  # (lat, lng)
    service_s: int = 300


@dataclass(frozen=True)
class Event:
    t: float  # seconds since the route started
    # position, route_start, stop_start, stop_arrive, stop_complete, stop_fail, route_finish
    kind: str
    stop_id: object = None
    point: tuple | None = None


@dataclass
class Driver:
    speed_kmh: float
    pace: float = 1.0  # > 1 is faster than nominal
    fail_rate: float = 0.1
    position_interval_s: int = 30
    gps_noise_m: float = 8
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def drawn(cls, rng, speed_kmh, **kwargs):
        """A driver with a pace drawn around 1 (most within ±15%)."""
        pace = min(max(rng.gauss(1.0, 0.12), 0.7), 1.35)
        return cls(speed_kmh=speed_kmh, pace=pace, rng=rng, **kwargs)


def traffic_factor(hour):
    """Speed multiplier by local hour (float): about 0.6 at the 8:00 and 18:00 peaks, 0.85 at
    midday, 1.1 at night. A sum of two bell curves, so it changes smoothly."""
    peaks = 0.45 * math.exp(-(((hour - 8) / 1.2) ** 2)) + 0.45 * math.exp(
        -(((hour - 18) / 1.5) ** 2)
    )
    midday = 0.2 * math.exp(-(((hour - 13) / 2.5) ** 2))
    return 1.1 - peaks - midday


def service_seconds(planned_s, rng):
    """Time on site: log-normal around the planned time (median = planned; 1 in 10 over twice)."""
    return max(30.0, planned_s * math.exp(rng.gauss(0, 0.55)))


def _towards(a, b, fraction):
    return (a[0] + (b[0] - a[0]) * fraction, a[1] + (b[1] - a[1]) * fraction)


def _noisy(point, rng, sigma_m):
    dlat = rng.gauss(0, sigma_m) / EARTH_M_PER_DEG
    dlng = rng.gauss(0, sigma_m) / (EARTH_M_PER_DEG * max(math.cos(math.radians(point[0])), 0.01))
    return (point[0] + dlat, point[1] + dlng)


def drive(driver, start, stops, *, start_hour=8.0, step_s=10):
    """The timeline of one route: positions every `position_interval_s` while moving or waiting,
    and the stop and route steps. The driver moves in steps of `step_s`, at the vehicle's speed
    times their pace times the traffic of the hour."""
    rng = driver.rng
    events = [Event(0.0, "route_start", point=start)]
    t, here = 0.0, start
    next_position = 0.0

    def positions_until(until, where):
        nonlocal next_position
        while next_position <= until:
            point = where(next_position)
            events.append(
                Event(next_position, "position", point=_noisy(point, rng, driver.gps_noise_m))
            )
            next_position += driver.position_interval_s

    for stop in stops:
        events.append(Event(t, "stop_start", stop_id=stop.id, point=here))
        remaining = haversine_m(here, stop.point) * DEFAULT_DETOUR_FACTOR
        leg_start, leg_total = here, remaining
        track = [(t, here)]
        while remaining > 0:
            hour = start_hour + t / 3600
            metres_per_s = driver.speed_kmh / 3.6 * driver.pace * traffic_factor(hour)
            moved = min(remaining, metres_per_s * step_s)
            t += moved / metres_per_s
            remaining -= moved
            track.append((t, _towards(leg_start, stop.point, 1 - remaining / leg_total)))
        positions_until(t, lambda s, track=track: _position_on(track, s))
        here = stop.point
        events.append(Event(t, "stop_arrive", stop_id=stop.id, point=here))
        t += service_seconds(stop.service_s, rng)
        positions_until(t, lambda s, here=here: here)
        outcome = "stop_fail" if rng.random() < driver.fail_rate else "stop_complete"
        events.append(Event(t, outcome, stop_id=stop.id, point=here))
    events.append(Event(t, "route_finish", point=here))
    events.sort(key=lambda event: event.t)
    return events


def _position_on(track, t):
    """Where the driver is at t on a track of (time, point), interpolated."""
    for (t0, p0), (t1, p1) in itertools.pairwise(track):
        if t0 <= t <= t1:
            return p0 if t1 == t0 else _towards(p0, p1, (t - t0) / (t1 - t0))
    return track[-1][1]
