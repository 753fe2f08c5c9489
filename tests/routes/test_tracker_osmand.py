"""Positions from tracker apps (OsmAnd protocol, as Traccar Client speaks it) at /gps/osmand: the
query-string and JSON formats, stored through the driver API's screening and de-duplication,
authenticated by tracker keys that the web admin generates, shows once and revokes."""

import hashlib
import json
import re
from datetime import UTC, timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.actions import driver_reset_password, driver_set_active
from accounts.devices import device_login
from accounts.models import DeviceKind, DriverDevice
from accounts.trackers import tracker_key_generate
from routes.models import Position
from tests.factories import PASSWORD, DriverFactory

pytestmark = pytest.mark.django_db

URL = "/gps/osmand"
# Avenida Paulista, São Paulo, and a point about 350 m along it.
PAULISTA = (-23.5614, -46.6559)
NEARBY = (-23.5590, -46.6580)
RIO = (-22.9068, -43.1729)
KEY_PATTERN = re.compile(r"tk_[A-Za-z0-9_-]+")


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def driver(account_a):
    return DriverFactory(account=account_a, username="ana")


@pytest.fixture
def key(driver):
    _device, raw_key = tracker_key_generate(driver=driver)
    return raw_key


def query(key, when, where=PAULISTA, **extra):
    """What the Traccar Client for Android sends (ProtocolFormatter): speed in knots."""
    lat, lon = where
    params = {"id": key, "timestamp": int(when.timestamp()), "lat": lat, "lon": lon}
    return {**params, "speed": 0.0, "bearing": 0.0, "altitude": 760.0, "batt": 80.0, **extra}


def traccar_json(key, when, where=PAULISTA, coords=None, battery=None):
    """What the Traccar Client of 2025 on (flutter_background_geolocation) POSTs, from its
    location template: the location under "location", the identifier in "device_id"."""
    lat, lon = where
    stamp = when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "location": {
            "timestamp": stamp,
            "coords": {
                "latitude": lat,
                "longitude": lon,
                "accuracy": 12.5,
                "speed": 8.3,
                "heading": 91.2,
                "altitude": 760.1,
                **(coords or {}),
            },
            "is_moving": True,
            "odometer": 1234.5,
            "event": "",
            "battery": {"level": 0.87, "is_charging": False, **(battery or {})},
            "activity": {"type": "in_vehicle"},
            "extras": {},
            "_": f"&id={key}&lat={lat}&lon={lon}&timestamp={stamp}&",
        },
        "device_id": key,
    }


def post_json(client, data, url=URL):
    return client.post(url, json.dumps(data), content_type="application/json")


def stored(driver):
    return list(
        Position.objects.filter(driver=driver)
        .order_by("recorded_at")
        .values_list("recorded_at", "lat", "lng")
    )


# The query-string format --------------------------------------------------------------------------


def test_a_get_with_the_query_string_stores_the_point(client, driver, key, now):
    response = client.get(
        URL, query(key, now, speed=10, bearing=270, accuracy=8.5, batt=81, charge="true")
    )

    assert response.status_code == 200
    assert response.content == b""
    row = Position.objects.get()
    assert (row.driver_id, row.account_id) == (driver.pk, driver.account_id)
    assert (row.recorded_at, row.lat, row.lng) == (now, *PAULISTA)
    # Knots, as Traccar reads OsmAnd's speed: 10 kn = 5.144 m/s.
    assert row.speed_mps == pytest.approx(5.1444, abs=1e-4)
    assert (row.heading_deg, row.accuracy_m, row.battery_pct) == (270, 8.5, 81)
    driver.refresh_from_db()
    assert (driver.last_lat, driver.last_lng, driver.last_position_at) == (*PAULISTA, now)
    assert driver.battery_pct == 81
    assert driver.last_seen_at is not None


def test_a_post_with_the_query_in_the_url_stores_the_point(client, driver, key, now):
    response = client.post(f"{URL}?{urlencode(query(key, now))}")

    assert response.status_code == 200
    assert stored(driver) == [(now, *PAULISTA)]


def test_a_post_with_a_form_body_stores_the_point(client, driver, key, now):
    response = client.post(
        URL, urlencode(query(key, now)), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert stored(driver) == [(now, *PAULISTA)]


def test_the_url_answers_with_a_trailing_slash_too(client, driver, key, now):
    response = client.get(URL + "/", query(key, now))

    assert response.status_code == 200
    assert stored(driver) == [(now, *PAULISTA)]


def test_deviceid_and_location_are_read_as_traccar_reads_them(client, driver, key, now):
    params = {"deviceid": key, "timestamp": int(now.timestamp()), "location": "-23.5614,-46.6559"}

    response = client.get(URL, params)

    assert response.status_code == 200
    assert stored(driver) == [(now, *PAULISTA)]


@pytest.mark.parametrize(
    "stamp",
    [
        pytest.param(lambda t: str(int(t.timestamp())), id="seconds"),
        pytest.param(lambda t: str(int(t.timestamp() * 1000)), id="milliseconds"),
        pytest.param(lambda t: t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), id="iso-z"),
        pytest.param(
            lambda t: t.astimezone(timezone.get_fixed_timezone(-180)).isoformat(),
            id="iso-offset",
        ),
        pytest.param(lambda t: t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"), id="text-utc"),
    ],
)
def test_the_timestamp_is_read_in_seconds_milliseconds_or_iso_text(client, driver, key, now, stamp):
    response = client.get(URL, {**query(key, now), "timestamp": stamp(now)})

    assert response.status_code == 200, response.content
    assert stored(driver) == [(now, *PAULISTA)]


def test_optional_readings_that_make_no_sense_are_dropped_and_the_point_kept(
    client, driver, key, now
):
    response = client.get(URL, query(key, now, speed="", bearing="-1", batt="n/a", accuracy="x"))

    assert response.status_code == 200
    row = Position.objects.get()
    assert (row.speed_mps, row.heading_deg, row.battery_pct, row.accuracy_m) == (
        None,
        None,
        None,
        None,
    )


# The JSON format ----------------------------------------------------------------------------------


def test_the_json_of_traccar_client_stores_the_point(client, driver, key, now):
    response = post_json(client, traccar_json(key, now))

    assert response.status_code == 200
    assert response.content == b""
    row = Position.objects.get()
    assert (row.driver_id, row.recorded_at, row.lat, row.lng) == (driver.pk, now, *PAULISTA)
    # Metres per second in JSON; the battery level 0-1 becomes a percentage.
    assert (row.speed_mps, row.heading_deg, row.accuracy_m, row.battery_pct) == (
        8.3,
        91.2,
        12.5,
        87,
    )
    driver.refresh_from_db()
    assert driver.battery_pct == 87


def test_unknown_json_readings_are_dropped_and_the_point_kept(client, driver, key, now):
    data = traccar_json(key, now, coords={"speed": -1, "heading": -1}, battery={"level": -1})

    response = post_json(client, data)

    assert response.status_code == 200
    row = Position.objects.get()
    assert (row.speed_mps, row.heading_deg, row.battery_pct) == (None, None, None)


def test_a_json_body_without_its_content_type_is_still_read(client, driver, key, now):
    body = json.dumps(traccar_json(key, now))

    response = client.post(URL, body, content_type="text/plain")

    assert response.status_code == 200
    assert stored(driver) == [(now, *PAULISTA)]


# Repeats and impossible points --------------------------------------------------------------------


def test_the_same_point_sent_twice_is_stored_once(client, driver, key, now):
    first = client.get(URL, query(key, now))
    again = client.get(URL, query(key, now))
    # The same moment in the other format is the same point too.
    as_json = post_json(client, traccar_json(key, now))

    assert [first.status_code, again.status_code, as_json.status_code] == [200, 200, 200]
    assert stored(driver) == [(now, *PAULISTA)]


@pytest.mark.parametrize(
    ("age", "where", "extra"),
    [
        pytest.param(timedelta(minutes=-6), PAULISTA, {}, id="future"),
        pytest.param(timedelta(days=8), PAULISTA, {}, id="too-old"),
        pytest.param(timedelta(0), (90.5, -46.6), {}, id="lat-out-of-range"),
        pytest.param(timedelta(0), (0, 0), {}, id="null-island"),
        pytest.param(timedelta(0), PAULISTA, {"accuracy": 1500}, id="inaccurate"),
        pytest.param(timedelta(seconds=-10), RIO, {}, id="too-fast-from-the-last-point"),
    ],
)
def test_impossible_points_are_dropped_as_the_api_drops_them(
    client, driver, key, now, age, where, extra
):
    client.get(URL, query(key, now))

    response = client.get(URL, query(key, now - age, where, **extra))

    # Taken (200), so the app does not resend it forever, and not stored.
    assert response.status_code == 200
    assert stored(driver) == [(now, *PAULISTA)]


# Malformed requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"id": ""}, id="no-key"),
        pytest.param({"lat": ""}, id="no-lat"),
        pytest.param({"lon": "west"}, id="lon-not-a-number"),
        pytest.param({"lat": "nan"}, id="lat-nan"),
        pytest.param({"lon": "inf"}, id="lon-infinite"),
        pytest.param({"timestamp": ""}, id="no-timestamp"),
        pytest.param({"timestamp": "yesterday"}, id="timestamp-not-a-time"),
        pytest.param({"timestamp": "9" * 30}, id="timestamp-overflows"),
        pytest.param({"timestamp": "2024-13-45T99:00:00Z"}, id="timestamp-impossible-date"),
    ],
)
def test_a_malformed_query_is_a_400_and_stores_nothing(client, driver, key, now, change):
    params = {name: value for name, value in {**query(key, now), **change}.items() if value != ""}

    response = client.get(URL, params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"
    assert not Position.objects.exists()


def _without(data, *path):
    *parents, last = path
    for name in parents:
        data = data[name]
    del data[last]


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda d: _without(d, "device_id"), id="no-device-id"),
        pytest.param(lambda d: d.update(device_id=12345), id="device-id-not-text"),
        pytest.param(lambda d: d.update(location=[d["location"]]), id="location-a-list"),
        pytest.param(lambda d: _without(d, "location", "coords"), id="no-coords"),
        pytest.param(lambda d: _without(d, "location", "timestamp"), id="no-timestamp"),
        pytest.param(lambda d: d["location"].update(timestamp="soon"), id="timestamp-not-a-time"),
        pytest.param(lambda d: _without(d, "location", "coords", "latitude"), id="no-latitude"),
        pytest.param(lambda d: d["location"]["coords"].update(longitude="x"), id="longitude-text"),
        pytest.param(
            lambda d: d["location"]["coords"].update(latitude=True), id="latitude-boolean"
        ),
    ],
)
def test_a_malformed_json_location_is_a_400_and_stores_nothing(client, driver, key, now, spoil):
    data = traccar_json(key, now)
    spoil(data)

    response = post_json(client, data)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"
    assert not Position.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"device_id": "tk_x", "location": ', id="truncated"),
        pytest.param(b"[1, 2, 3]", id="an-array"),
        pytest.param(b'"text"', id="a-string"),
        pytest.param(b'{"device_id": "tk_x", "location": {"coords": NaN}}', id="nan"),
        pytest.param(b"\xff\xfe{not utf-8", id="not-utf-8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeply-nested"),
    ],
)
def test_a_body_that_is_not_json_is_a_400(client, key, body):
    response = client.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"
    assert not Position.objects.exists()


def test_a_body_too_large_is_a_400(client, key, now, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = urlencode({**query(key, now), "padding": "x" * 2000})

    response = client.post(URL, body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"
    assert not Position.objects.exists()


def test_other_methods_are_refused(client, key, now):
    response = client.put(URL, urlencode(query(key, now)))

    assert response.status_code == 405
    assert not Position.objects.exists()


# Keys ---------------------------------------------------------------------------------------------


def test_an_unknown_key_is_a_404(client, driver, key, now):
    response = client.get(URL, query("tk_" + "x" * 43, now))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not Position.objects.exists()


def test_a_driver_app_token_is_not_a_tracker_key(client, driver, key, now):
    _device, token = device_login(
        login=f"{driver.account.slug}.{driver.username}", password=PASSWORD, device_id="phone"
    )

    response = client.get(URL, query(token, now))

    assert response.status_code == 404
    assert not Position.objects.exists()


def test_a_tracker_key_is_not_a_driver_api_token(client, driver, key):
    # Shaped like a device token or not, a tracker key (it travels in URLs) opens no driver API.
    for token in (key, "dt_" + key[3:]):
        response = client.get("/api/driver/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    DriverDevice.objects.filter(driver=driver, kind=DeviceKind.TRACKER).update(
        token_hash=hashlib.sha256(b"dt_forged").hexdigest()
    )
    response = client.get("/api/driver/v1/me", headers={"Authorization": "Bearer dt_forged"})
    assert response.status_code == 401


def test_a_replaced_key_is_revoked(client, driver, key, now):
    _device, new_key = tracker_key_generate(driver=driver)

    old = client.get(URL, query(key, now))
    new = client.get(URL, query(new_key, now))

    assert (old.status_code, new.status_code) == (404, 200)
    assert DriverDevice.objects.filter(driver=driver, kind=DeviceKind.TRACKER).count() == 2
    assert stored(driver) == [(now, *PAULISTA)]


def test_deactivating_the_driver_revokes_the_key(client, driver, key, now):
    driver_set_active(driver=driver, active=False)

    response = client.get(URL, query(key, now))

    assert response.status_code == 404
    assert DriverDevice.objects.get(driver=driver).revoked_at is not None
    # Reactivated, the driver needs a new key: the old one stays revoked.
    driver_set_active(driver=driver, active=True)
    assert client.get(URL, query(key, now)).status_code == 404
    assert not Position.objects.exists()


def test_logging_the_driver_out_of_every_device_revokes_the_key_too(client, driver, key, now):
    # The key is one of the driver's devices: a reset password logs them all out.
    driver_reset_password(driver=driver)

    assert client.get(URL, query(key, now)).status_code == 404


def test_a_key_of_an_inactive_driver_or_account_does_not_work(client, driver, key, now):
    # However the driver was made inactive (an import, the shell), the key stops working.
    type(driver).objects.filter(pk=driver.pk).update(is_active=False)
    assert client.get(URL, query(key, now)).status_code == 404

    type(driver).objects.filter(pk=driver.pk).update(is_active=True)
    type(driver.account).objects.filter(pk=driver.account_id).update(is_active=False)
    assert client.get(URL, query(key, now)).status_code == 404
    assert not Position.objects.exists()


def test_a_key_writes_only_to_its_own_driver_and_account(client, driver, key, account_b, now):
    colleague = DriverFactory(account=driver.account)
    outsider = DriverFactory(account=account_b, username="ana")
    _device, outsider_key = tracker_key_generate(driver=outsider)

    client.get(URL, query(key, now))
    post_json(client, traccar_json(outsider_key, now, NEARBY))

    mine = Position.objects.get(driver=driver)
    theirs = Position.objects.get(driver=outsider)
    assert (mine.account_id, mine.lat) == (driver.account_id, PAULISTA[0])
    assert (theirs.account_id, theirs.lat) == (account_b.pk, NEARBY[0])
    assert not Position.objects.filter(driver=colleague).exists()


def test_a_point_costs_a_constant_number_of_queries(
    client, driver, key, now, django_assert_max_num_queries
):
    client.get(URL, query(key, now - timedelta(seconds=20)))

    # The key by its hash; the routes run at the time; the insert; the driver's latest point.
    with django_assert_max_num_queries(6):
        response = client.get(URL, query(key, now - timedelta(seconds=10), NEARBY))

    assert response.status_code == 200


# The web admin ------------------------------------------------------------------------------------


def admin_action(client, action, *drivers):
    return client.post(
        reverse("admin:accounts_driver_changelist"),
        {"action": action, "_selected_action": [d.pk for d in drivers]},
        follow=True,
    )


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_generating_a_key_shows_it_once_and_stores_its_hash(client_of, manager_a, driver, now):
    client = client_of(manager_a)

    response = admin_action(client, "generate_tracker_key", driver)

    [message] = messages_of(response)
    [raw_key] = KEY_PATTERN.findall(message)
    assert "http://testserver/gps/osmand" in message
    # 32 random bytes, URL-safe.
    assert len(raw_key) >= len("tk_") + 43
    device = DriverDevice.objects.get(driver=driver)
    assert device.kind == DeviceKind.TRACKER
    assert device.token_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert raw_key not in {device.device_id, device.name, device.token_hash}
    assert device.device_id == raw_key[:9]
    # Afterwards the driver's page shows its beginning only.
    page = client.get(reverse("admin:accounts_driver_change", args=[driver.pk])).content.decode()
    assert f"{raw_key[:9]}… (never used)" in page
    assert raw_key not in page
    # And the key works; the page then says when it was last used.
    assert client.get(URL, query(raw_key, now)).status_code == 200
    page = client.get(reverse("admin:accounts_driver_change", args=[driver.pk])).content.decode()
    assert f"{raw_key[:9]}… (last used " in page


def test_generating_again_replaces_the_key(client_of, manager_a, driver, key, now):
    response = admin_action(client_of(manager_a), "generate_tracker_key", driver)

    [new_key] = KEY_PATTERN.findall(messages_of(response)[0])
    assert new_key != key
    assert DriverDevice.objects.get(driver=driver, revoked_at__isnull=True).device_id == new_key[:9]
    assert client_of(manager_a).get(URL, query(key, now)).status_code == 404


def test_revoking_the_key_stops_it(client_of, manager_a, driver, key, now):
    client = client_of(manager_a)

    response = admin_action(client, "revoke_tracker_key", driver)

    assert messages_of(response) == ["1 tracker key was revoked."]
    assert client.get(URL, query(key, now)).status_code == 404
    page = client.get(reverse("admin:accounts_driver_change", args=[driver.pk])).content.decode()
    field = page.split('id="devices-group"')[0]
    assert "None (generate one" in field
    assert key[:9] not in field


def test_no_key_is_generated_for_an_inactive_driver(client_of, manager_a, driver):
    driver_set_active(driver=driver, active=False)

    response = admin_action(client_of(manager_a), "generate_tracker_key", driver)

    assert "inactive" in messages_of(response)[0]
    assert not DriverDevice.objects.exists()


def test_operators_cannot_generate_or_revoke_keys(client_of, operator_a, driver, key):
    client = client_of(operator_a)

    admin_action(client, "generate_tracker_key", driver)
    admin_action(client, "revoke_tracker_key", driver)

    [device] = DriverDevice.objects.all()
    assert device.revoked_at is None


def test_another_accounts_manager_cannot_touch_the_key(client_of, manager_b, driver, key):
    client = client_of(manager_b)

    admin_action(client, "generate_tracker_key", driver)
    admin_action(client, "revoke_tracker_key", driver)

    [device] = DriverDevice.objects.all()
    assert device.revoked_at is None
    assert client.get(reverse("admin:accounts_driver_change", args=[driver.pk])).status_code == 404
