"""Travel matrices for the optimizer and ETAs: one interface, pure Python (no ORM).

`matrix(points, speed_kmh=...)` returns integer metres and seconds between every pair of points
(the optimizer's edges take integers). The default is haversine distance times a detour factor at
a speed per vehicle type; no OSRM provider is implemented yet, so `get_provider()` always returns
the haversine one.
"""

import abc
import math

from tracking.lib.geo import haversine_m

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


def get_provider():
    """The configured provider: haversine (an OSRM provider is not implemented)."""
    return HaversineProvider()
