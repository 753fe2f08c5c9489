"""Travel matrices for the optimizer and ETAs: one interface, pure Python (no ORM).

`matrix(points, speed_kmh=...)` returns integer metres and seconds between every pair of points
(the optimizer's edges take integers). The default is haversine distance times a detour factor at
a speed per vehicle type; with `settings.OSRM_URL` set, `get_provider()` returns an OSRM provider
instead: road distances and times, and `MatrixUnavailable` when the server cannot answer.
"""

import abc
import logging
import math

import requests

from tracking.lib.geo import haversine_m

logger = logging.getLogger(__name__)

# Urban door-to-door averages in km/h (traffic, lights, parking included), used when a vehicle has
# no speed of its own. Bicycles are slower than motorbikes but ignore most congestion.
DEFAULT_SPEED_KMH = {
    "motorbike": 30,
    "car": 25,
    "van": 22,
    "truck": 18,
    "bicycle": 12,
}

# Street distance over straight-line distance in a city grid: about 1.2-1.4 in the literature.
DEFAULT_DETOUR_FACTOR = 1.3


class MatrixProvider(abc.ABC):
    """Distances (m) and durations (s) between all pairs of points, as lists of lists of ints."""

    @abc.abstractmethod
    def matrix(self, points, *, speed_kmh):
        """(distances_m, durations_s) between every pair of points, at speed_kmh."""


class HaversineProvider(MatrixProvider):
    """Great-circle distance times a detour factor; duration = distance at `speed_kmh`."""

    def __init__(self, detour_factor=DEFAULT_DETOUR_FACTOR):
        self.detour_factor = detour_factor

    def matrix(self, points, *, speed_kmh):
        if speed_kmh <= 0:
            raise ValueError("speed_kmh must be positive")
        metres_per_s = speed_kmh / 3.6
        size = len(points)
        distances = [[0] * size for _ in range(size)]
        durations = [[0] * size for _ in range(size)]
        for i in range(size):
            for j in range(i + 1, size):
                metres = haversine_m(points[i], points[j]) * self.detour_factor
                distances[i][j] = distances[j][i] = round(metres)
                durations[i][j] = durations[j][i] = round(metres / metres_per_s)
        return distances, durations


class EuclideanProvider(MatrixProvider):
    """Planar (x, y) points, for benchmarks such as Solomon: duration = distance, speed ignored.

    Values are multiplied by `scale` and truncated (DIMACS convention: scale 10 = one decimal), so
    costs divided by `scale` compare with the published best-known solutions.
    """

    def __init__(self, scale=10):
        self.scale = scale

    def matrix(self, points, *, speed_kmh=None):
        size = len(points)
        distances = [[0] * size for _ in range(size)]
        for i in range(size):
            for j in range(i + 1, size):
                value = math.dist(points[i], points[j]) * self.scale
                distances[i][j] = distances[j][i] = int(value + 1e-9)
        return distances, [row[:] for row in distances]


class MatrixUnavailable(RuntimeError):
    """The routing engine gave no usable matrix. Callers decide whether haversine will do instead:
    estimated distances may be fine for a preview and wrong for a route that is sent out."""


# Coordinates per Table request that OSRM accepts by default (osrm-routed --max-table-size).
OSRM_MAX_TABLE_SIZE = 100


class OsrmProvider(MatrixProvider):
    """Road distances and durations from an OSRM server's Table service.

    OSRM's durations are those of the profile its data was built with (usually a car), which a
    slower vehicle cannot match: a bicycle at 12 km/h should not get car times. So a pair's
    duration is the larger of OSRM's and the road distance at `speed_kmh`; a faster vehicle keeps
    OSRM's, since the roads' limits bind it too.

    More than `OSRM_MAX_TABLE_SIZE` points are asked for in blocks of half that many sources by half
    that many destinations, each request sending only its block's coordinates. A pair OSRM cannot
    route (null: a point far from any road, or no road between them) gets the haversine values, so
    one stray point does not cost the whole matrix; a failed request does (`MatrixUnavailable`).
    """

    def __init__(self, base_url, profile="driving", timeout=10, session=None):
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        self.timeout = timeout
        self.session = session or requests.Session()

    def matrix(self, points, *, speed_kmh):
        if speed_kmh <= 0:
            raise ValueError("speed_kmh must be positive")
        size = len(points)
        if size <= 1:
            return [[0] * size for _ in range(size)], [[0] * size for _ in range(size)]
        if size <= OSRM_MAX_TABLE_SIZE:
            blocks = [(range(size), range(size))]
        else:
            step = OSRM_MAX_TABLE_SIZE // 2
            chunks = [range(start, min(start + step, size)) for start in range(0, size, step)]
            blocks = [(rows, cols) for rows in chunks for cols in chunks]

        distances = [[None] * size for _ in range(size)]
        durations = [[None] * size for _ in range(size)]
        for rows, cols in blocks:
            if rows == cols:
                block_distances, block_durations = self._table([points[i] for i in rows])
            else:
                coordinates = [points[i] for i in rows] + [points[j] for j in cols]
                block_distances, block_durations = self._table(
                    coordinates,
                    sources=range(len(rows)),
                    destinations=range(len(rows), len(coordinates)),
                )
            for a, i in enumerate(rows):
                for b, j in enumerate(cols):
                    distances[i][j] = block_distances[a][b]
                    durations[i][j] = block_durations[a][b]

        metres_per_s = speed_kmh / 3.6
        fallback = None
        unroutable = 0
        for i in range(size):
            for j in range(size):
                metres, seconds = distances[i][j], durations[i][j]
                if metres is None or seconds is None:
                    if fallback is None:
                        fallback = HaversineProvider().matrix(points, speed_kmh=speed_kmh)
                    distances[i][j], durations[i][j] = fallback[0][i][j], fallback[1][i][j]
                    unroutable += 1
                else:
                    distances[i][j] = round(metres)
                    durations[i][j] = round(max(seconds, metres / metres_per_s))
        if unroutable:
            logger.warning(
                "OSRM found no route for %s of %s pairs; haversine values used for them",
                unroutable,
                size * size,
            )
        return distances, durations

    def _table(self, coordinates, *, sources=None, destinations=None):
        """(distances, durations) of one Table request, with None where OSRM found no route."""
        # OSRM takes lng,lat and keeps 6 decimals (about 0.1 m) itself.
        path = ";".join(f"{lng:.6f},{lat:.6f}" for lat, lng in coordinates)
        # Built by hand: OSRM documents a literal ';' and ',' here, which `params=` would escape.
        query = "annotations=distance,duration"
        if sources is not None:
            query += "&sources=" + ";".join(map(str, sources))
            query += "&destinations=" + ";".join(map(str, destinations))
        try:
            response = self.session.get(
                f"{self.base_url}/table/v1/{self.profile}/{path}?{query}", timeout=self.timeout
            )
        except requests.RequestException as exc:  # refused, timed out, DNS, TLS...
            raise MatrixUnavailable(f"OSRM at {self.base_url} did not answer: {exc}") from exc
        try:
            body = response.json()
        except ValueError:  # e.g. a proxy's HTML error page
            body = {}
        if response.status_code != 200 or body.get("code") != "Ok":
            raise MatrixUnavailable(
                f"OSRM at {self.base_url} refused a table of {len(coordinates)} points: "
                f"HTTP {response.status_code}, {body.get('code')}: {body.get('message', '')}"
            )
        if "distances" not in body or "durations" not in body:
            raise MatrixUnavailable(
                f"OSRM at {self.base_url} answered without distances or durations "
                "(a version without table annotations?)"
            )
        return body["distances"], body["durations"]


def get_provider():
    """The configured provider: OSRM when `settings.OSRM_URL` is set, haversine otherwise."""
    # Imported here so that this module works without Django configured (benchmarks, scripts).
    from django.conf import settings

    if settings.OSRM_URL:
        return OsrmProvider(
            settings.OSRM_URL, profile=settings.OSRM_PROFILE, timeout=settings.OSRM_TIMEOUT_S
        )
    return HaversineProvider()
