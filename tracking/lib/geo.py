"""Great-circle distance between WGS84 (lat, lng) points in metres (plain floats, no PostGIS)."""

import math

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG); the sphere is within 0.5% of WGS84


def haversine_m(a, b):
    """Distance in metres between two (lat, lng) points in degrees."""
    lat1, lng1 = math.radians(a[0]), math.radians(a[1])
    lat2, lng2 = math.radians(b[0]), math.radians(b[1])
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
