import itertools
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from routes.matrix import (
    DEFAULT_SPEED_KMH,
    EuclideanProvider,
    HaversineProvider,
    MatrixUnavailable,
    OsrmProvider,
    get_provider,
)
from routes.optimizer import Problem, Stop, Vehicle, solve
from tracking.lib.geo import haversine_m

SE = (-23.5503, -46.6339)  # Praça da Sé, São Paulo
MASP = (-23.5614, -46.6559)  # MASP, Avenida Paulista


def test_haversine_se_to_paulista():
    # About 2.56 km in a straight line on any map (WGS84 geodesic: 2,560 m).
    assert haversine_m(SE, MASP) == pytest.approx(2560, rel=0.02)


def test_haversine_one_degree_of_latitude_and_zero():
    assert haversine_m((0, 0), (1, 0)) == pytest.approx(111_195, rel=0.001)
    assert haversine_m(SE, SE) == 0


def test_haversine_matrix_is_symmetric_with_zero_diagonal():
    points = [SE, MASP, (-23.5874, -46.6576), (-23.5329, -46.6395)]
    distances, durations = HaversineProvider().matrix(points, speed_kmh=DEFAULT_SPEED_KMH["car"])
    for i in range(len(points)):
        assert distances[i][i] == durations[i][i] == 0
        for j in range(len(points)):
            assert distances[i][j] == distances[j][i]
            assert durations[i][j] == durations[j][i]
            assert isinstance(distances[i][j], int) and isinstance(durations[i][j], int)
    assert distances[0][1] == round(haversine_m(SE, MASP) * 1.3)
    assert durations[0][1] == round(haversine_m(SE, MASP) * 1.3 / (25 / 3.6))


def test_slower_vehicle_takes_longer():
    provider = HaversineProvider(detour_factor=1)
    _, by_bike = provider.matrix([SE, MASP], speed_kmh=DEFAULT_SPEED_KMH["bicycle"])
    _, by_motorbike = provider.matrix([SE, MASP], speed_kmh=DEFAULT_SPEED_KMH["motorbike"])
    assert by_bike[0][1] > by_motorbike[0][1] > 0


def test_euclidean_truncates_scaled_distances():
    distances, durations = EuclideanProvider(scale=10).matrix([(0, 0), (1, 1)])
    assert distances == durations == [[0, 14], [14, 0]]


def test_default_provider_is_haversine(settings):
    settings.OSRM_URL = ""  # whatever a developer's .env says
    assert isinstance(get_provider(), HaversineProvider)


# OSRM, against a local fake of its Table service --------------------------------------------------

OSRM_SPEED_KMH = 36  # the fake's durations: 10 m/s


class FakeOsrm:
    """An HTTP server on 127.0.0.1 answering OSRM's Table requests: distances are haversine metres,
    durations those at 36 km/h, null to and from the points in `unroutable`. Records each request's
    path, coordinates ((lat, lng), parsed back from OSRM's lng,lat) and query."""

    def __init__(self):
        self.requests = []
        self.unroutable = set()
        self.status = 200
        self.body = None  # a fixed answer instead of the table: JSON, or bytes sent as they are
        self.delay_s = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                coordinates = [
                    (float(lat), float(lng))
                    for lng, lat in (pair.split(",") for pair in url.path.split("/")[4].split(";"))
                ]
                query = {name: values[0] for name, values in parse_qs(url.query).items()}
                fake.requests.append({"path": url.path, "coordinates": coordinates, "query": query})
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                body = fake.body if fake.body is not None else fake.table(coordinates, query)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # the client hung up (timeout test): nothing to report

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll interval: shutdown() waits for one, after every test.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def table(self, coordinates, query):
        everything = ";".join(str(i) for i in range(len(coordinates)))
        sources = [coordinates[int(i)] for i in query.get("sources", everything).split(";")]
        destinations = [
            coordinates[int(i)] for i in query.get("destinations", everything).split(";")
        ]
        distances = [
            [
                None if a != b and {a, b} & self.unroutable else haversine_m(a, b)
                for b in destinations
            ]
            for a in sources
        ]
        durations = [[None if m is None else m / 10 for m in row] for row in distances]
        return {"code": "Ok", "distances": distances, "durations": durations}


@pytest.fixture
def osrm():
    fake = FakeOsrm()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def expected_osrm(points):
    """The matrices the fake gives for these points, as the provider should hand them out."""
    distances = [[round(haversine_m(a, b)) for b in points] for a in points]
    durations = [[round(haversine_m(a, b) / 10) for b in points] for a in points]
    return distances, durations


PINHEIROS = (-23.5674, -46.6918)
LIBERDADE = (-23.5587, -46.6353)


def test_osrm_small_matrix_is_one_request(osrm):
    points = [SE, MASP, PINHEIROS, LIBERDADE]
    distances, durations = OsrmProvider(osrm.url).matrix(points, speed_kmh=OSRM_SPEED_KMH)

    assert (distances, durations) == expected_osrm(points)
    assert all(isinstance(value, int) for row in distances + durations for value in row)
    assert distances[0][1] == pytest.approx(2560, rel=0.02)  # Sé to MASP, not a swapped point
    [request] = osrm.requests
    assert request["path"].startswith("/table/v1/driving/-46.633900,-23.550300;-46.655900,")
    assert request["coordinates"] == points
    assert request["query"] == {"annotations": "distance,duration"}


def test_osrm_profile_and_trailing_slash(osrm):
    OsrmProvider(osrm.url + "/", profile="cycling").matrix([SE, MASP], speed_kmh=12)
    assert osrm.requests[0]["path"].startswith("/table/v1/cycling/")


def test_osrm_large_matrix_is_split_into_blocks_of_at_most_100_points(osrm):
    points = [
        (round(-23.60 + row * 0.004, 4), round(-46.70 + col * 0.005, 4))
        for row in range(12)
        for col in range(10)
    ]
    assert len(points) == 120

    matrices = OsrmProvider(osrm.url).matrix(points, speed_kmh=OSRM_SPEED_KMH)

    assert matrices == expected_osrm(points)
    assert len(osrm.requests) == 9  # 50 + 50 + 20 sources by the same destinations
    for request in osrm.requests:
        assert len(request["coordinates"]) <= 100
    off_diagonal = [r for r in osrm.requests if "sources" in r["query"]]
    assert len(off_diagonal) == 6
    assert off_diagonal[0]["query"]["sources"] == ";".join(str(i) for i in range(50))
    assert off_diagonal[0]["query"]["destinations"] == ";".join(str(i) for i in range(50, 100))


def test_osrm_unroutable_pairs_fall_back_to_haversine(osrm, caplog):
    island = (-23.9836, -46.2014)  # off the fake's road network
    points = [SE, MASP, island]
    osrm.unroutable = {island}

    with caplog.at_level(logging.WARNING, logger="routes.matrix"):
        distances, durations = OsrmProvider(osrm.url).matrix(points, speed_kmh=OSRM_SPEED_KMH)

    by_road = expected_osrm(points)
    estimated = HaversineProvider().matrix(points, speed_kmh=OSRM_SPEED_KMH)
    for i in range(3):
        for j in range(3):
            source = estimated if 2 in (i, j) and i != j else by_road
            assert distances[i][j] == source[0][i][j]
            assert durations[i][j] == source[1][i][j]
    assert [r.getMessage() for r in caplog.records] == [
        "OSRM found no route for 4 of 9 pairs; haversine values used for them"
    ]


def test_osrm_durations_are_stretched_for_slower_vehicles_only(osrm):
    points = [SE, MASP, PINHEIROS]
    provider = OsrmProvider(osrm.url)

    bike_distances, by_bike = provider.matrix(points, speed_kmh=12)
    _, by_motorbike = provider.matrix(points, speed_kmh=60)

    assert bike_distances == expected_osrm(points)[0]  # distances never change
    assert by_bike == [[round(haversine_m(a, b) / (12 / 3.6)) for b in points] for a in points]
    assert by_motorbike == expected_osrm(points)[1]  # faster than OSRM's: OSRM's times


def test_osrm_one_or_no_point_needs_no_request(osrm):
    provider = OsrmProvider(osrm.url)
    assert provider.matrix([SE], speed_kmh=25) == ([[0]], [[0]])
    assert provider.matrix([], speed_kmh=25) == ([], [])
    assert osrm.requests == []


def test_osrm_identical_points_are_zero_apart(osrm):
    distances, durations = OsrmProvider(osrm.url).matrix([SE, SE, MASP], speed_kmh=25)
    assert distances[0][1] == durations[0][1] == 0
    assert distances[0][2] == distances[1][2] > 0


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, {}, "HTTP 500"),
        (400, {"code": "InvalidQuery", "message": "Query string malformed"}, "InvalidQuery"),
        (200, {"code": "NoTable"}, "NoTable"),
        (200, {"code": "Ok", "durations": [[0, 1], [1, 0]]}, "without distances"),
    ],
)
def test_osrm_errors_raise_matrix_unavailable(osrm, status, body, message):
    osrm.status, osrm.body = status, body
    with pytest.raises(MatrixUnavailable, match=message):
        OsrmProvider(osrm.url).matrix([SE, MASP], speed_kmh=25)


def test_osrm_non_json_answer_raises_matrix_unavailable(osrm):
    osrm.status, osrm.body = 502, b"<html><body>Bad Gateway</body></html>"  # from a proxy
    with pytest.raises(MatrixUnavailable, match="HTTP 502"):
        OsrmProvider(osrm.url).matrix([SE, MASP], speed_kmh=25)


def test_osrm_unreachable_or_slow_server_raises_matrix_unavailable(osrm):
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(MatrixUnavailable, match="did not answer"):
        OsrmProvider(f"http://127.0.0.1:{closed_port}").matrix([SE, MASP], speed_kmh=25)

    osrm.delay_s = 1
    with pytest.raises(MatrixUnavailable, match="did not answer"):
        OsrmProvider(osrm.url, timeout=0.2).matrix([SE, MASP], speed_kmh=25)


def test_get_provider_is_osrm_when_configured(settings):
    settings.OSRM_URL = "http://osrm.internal:5000"
    settings.OSRM_PROFILE = "cycling"
    settings.OSRM_TIMEOUT_S = 3.5

    provider = get_provider()

    assert isinstance(provider, OsrmProvider)
    assert (provider.base_url, provider.profile, provider.timeout) == (
        "http://osrm.internal:5000",
        "cycling",
        3.5,
    )


def test_optimizer_plans_on_osrm_distances(osrm):
    places = {"masp": MASP, "pinheiros": PINHEIROS, "liberdade": LIBERDADE}
    stops = [Stop(name, point, service_s=120) for name, point in places.items()]
    vehicle = Vehicle("driver", speed_kmh=OSRM_SPEED_KMH, start=SE)  # an open route
    problem = Problem(stops, [vehicle], matrix_provider=OsrmProvider(osrm.url))

    plan = solve(problem, time_limit_s=0.2)

    assert plan.unassigned == []
    assert sorted(plan.routes["driver"]) == sorted(places)
    visited = [SE] + [places[name] for name in plan.routes["driver"]]
    # The fake's road metres, not haversine times the detour factor.
    assert plan.distance_m == sum(round(haversine_m(a, b)) for a, b in itertools.pairwise(visited))
    assert len(osrm.requests) == 1
