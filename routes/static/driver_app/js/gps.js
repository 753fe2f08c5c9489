// GPS while a route is under way: the points of watchPosition, kept on the phone (IndexedDB) as
// they come; the app moves them into the queue as one batch every `position_interval_s`.
import { phoneTime } from "./format.js";
import { db } from "./store.js";

// A new point is kept when the driver moved this far, or after the interval standing still.
const MIN_MOVE_M = 10;
const MIN_GAP_MS = 1_000;
// A step (arrived, completed) carries the last point when it is this recent.
const FRESH_MS = 2 * 60_000;

let watchId = null;
let driverId = null;
let intervalMs = 30_000;
let last = null; // the last point kept: {at, lat, lng}
let fix = null; // the last point heard
let battery = null;
let onStatus = () => {};

function distanceM(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6_371_000 * Math.asin(Math.sqrt(h));
}

function finite(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

async function heard(position) {
  const { latitude: lat, longitude: lng, accuracy, speed, heading } = position.coords;
  // The fix's own time; some phones send 0, and then the phone's clock is the best there is.
  const stamp = position.timestamp > 1e12 ? position.timestamp : Date.now();
  fix = {
    at: stamp,
    lat,
    lng,
    accuracy_m: finite(accuracy),
    speed_mps: finite(speed),
    heading_deg: finite(heading),
  };
  onStatus({ ok: true });
  await keep(fix);
}

async function keep(point) {
  if (driverId === null) return;
  const gap = last ? point.at - last.at : Infinity;
  if (gap < MIN_GAP_MS) return;
  if (last && gap < intervalMs && distanceM(last, point) < MIN_MOVE_M) return;
  last = point;
  const { at, ...reading } = point;
  await (
    await db()
  ).put("positions", {
    driverId,
    recorded_at: phoneTime(new Date(at)),
    ...reading,
    battery_pct: battery === null ? null : Math.round(battery.level * 100),
  });
  onStatus({ ok: true, buffered: true });
}

/** Watches the phone's position; with `buffer` the driver's points are also kept to be sent (a
 * call while watching only changes these settings). */
export function track({ driver, intervalS, buffer, listener }) {
  const starting = driverId !== (buffer ? driver : null);
  driverId = buffer ? driver : null;
  if (starting) {
    last = null;
    // A phone standing still may not report again: the point it has now is the first kept.
    if (fix && Date.now() - fix.at < FRESH_MS) keep(fix).catch((error) => console.error(error));
  }
  intervalMs = Math.max(1, intervalS) * 1000;
  if (listener) onStatus = listener;
  if (watchId !== null || !navigator.geolocation) {
    if (!navigator.geolocation) onStatus({ ok: false, code: "unsupported" });
    return;
  }
  if (battery === null && navigator.getBattery) {
    navigator.getBattery().then(
      (found) => {
        battery = found;
      },
      () => {},
    );
  }
  watchId = navigator.geolocation.watchPosition(
    (position) => heard(position).catch((error) => console.error(error)),
    (error) => onStatus({ ok: false, code: error.code === 1 ? "denied" : "unavailable" }),
    { enableHighAccuracy: true, maximumAge: 0, timeout: 60_000 },
  );
}

export function stop() {
  if (watchId !== null) navigator.geolocation.clearWatch(watchId);
  watchId = null;
  driverId = null;
  last = null;
}

export function tracking() {
  return watchId !== null;
}

/** The last point, when recent enough to say where a step happened. */
export function here() {
  if (!fix || Date.now() - fix.at > FRESH_MS) return {};
  return { lat: fix.lat, lng: fix.lng };
}

export async function buffered(driver) {
  const range = IDBKeyRange.bound([driver, ""], [driver, "\uffff"]);
  return (await db()).count("positions", range);
}
