import pytest

from routes.matrix import DEFAULT_SPEED_KMH, EuclideanProvider, HaversineProvider, get_provider
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


def test_default_provider_is_haversine():
    assert isinstance(get_provider(), HaversineProvider)
