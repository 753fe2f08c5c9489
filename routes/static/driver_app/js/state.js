// What the app knows and does: the session, the routes as the server last told them with the
// writes still waiting in the queue laid over them, and every action the driver takes (stored in
// the queue first, then sent).
import * as api from "./api.js";
import { phoneTime } from "./format.js";
import * as gps from "./gps.js";
import * as outbox from "./outbox.js";
import * as store from "./store.js";

// The stop and route moves the server allows (routes.models), so the app offers only those and
// a step that arrives late is not laid over a later one.
export const STOP_MOVES = {
  pending: ["in_progress", "cancelled"],
  in_progress: ["arrived", "paused", "done", "failed"],
  arrived: ["paused", "done", "failed"],
  paused: ["in_progress", "failed"],
  done: [],
  failed: [],
  cancelled: [],
};
const ROUTE_MOVES = {
  planned: ["in_progress", "cancelled"],
  in_progress: ["finished", "cancelled"],
  finished: [],
  cancelled: [],
};
export const UNDER_WAY = ["in_progress", "arrived", "paused"];
const REFRESH_EVERY_MS = 60_000;
const CHAT_EVERY_MS = 20_000;

export const state = {
  session: null, // {token, driver, login}
  me: null,
  snapshot: [], // the routes as the server last told them
  reasons: [],
  results: {}, // per stop: what the server read in its proof
  entries: [], // the queue
  buffered: 0, // GPS points not yet in a batch
  refreshedAt: null,
  refreshing: false,
  loadError: null,
  expired: false,
  gps: { ok: null, code: "" },
  chats: {}, // per route: {messages, loaded}
  news: [], // support's messages heard outside the chat screen
  chatOpen: null, // the route whose chat is on screen
};

const listeners = new Set();
export function subscribe(listener) {
  listeners.add(listener);
}
function changed(what = "data") {
  for (const listener of listeners) listener(what);
}

const driverKey = (name) => `${name}:${state.session.driver.id}`;

// Starting -----------------------------------------------------------------------------------

export async function init() {
  outbox.subscribe(onQueue);
  const session = await store.get("session");
  if (session) await load(session);
  await reloadQueue();
  follow();
  setInterval(() => {
    if (document.visibilityState === "visible") refresh();
  }, REFRESH_EVERY_MS);
  setInterval(() => {
    if (document.visibilityState === "visible" && !state.chatOpen) watchChat();
  }, CHAT_EVERY_MS);
}

async function load(session) {
  state.session = session;
  state.me = (await store.get(driverKey("me"))) ?? null;
  state.snapshot = (await store.get(driverKey("routes"))) ?? [];
  state.reasons = (await store.get(driverKey("reasons"))) ?? [];
  state.results = (await store.get(driverKey("results"))) ?? {};
  state.refreshedAt = (await store.get(driverKey("refreshed"))) ?? null;
  state.chats = {};
  state.news = [];
}

async function reloadQueue() {
  state.entries = await outbox.all();
  state.buffered = state.session ? await gps.buffered(state.session.driver.id) : 0;
}

async function deviceId() {
  let id = await store.get("deviceId");
  if (!id) {
    id = outbox.newKey();
    await store.set("deviceId", id);
  }
  return id;
}

function deviceName() {
  const platform =
    navigator.userAgentData?.platform || navigator.userAgent.match(/\(([^;)]+)/)?.[1] || "";
  return (platform ? `Web app (${platform})` : "Web app").slice(0, 120);
}

// Logging in and out -------------------------------------------------------------------------

/** Logs the device in (needs the network); throws api.ApiError or api.NetworkError. */
export async function logIn(login, password) {
  const data = await api.request("POST", "auth/token", {
    json: {
      username: login,
      password,
      device_id: await deviceId(),
      device_name: deviceName(),
    },
  });
  const session = { token: data.token, driver: data.driver, login };
  await store.set("session", session);
  // Writes this driver left waiting go with the new token.
  await outbox.retoken(data.driver.id, data.token);
  await load(session);
  state.expired = false;
  await reloadQueue();
  changed();
  await refresh();
}

/** Logs out at once; the token is revoked through the queue, after the driver's writes. */
export async function logOut() {
  const session = state.session;
  if (!session) return;
  await queuePositions();
  await outbox.enqueue({
    kind: "revoke",
    method: "POST",
    path: "auth/revoke",
    driverId: session.driver.id,
    token: session.token,
    recordedAt: phoneTime(),
    label: { key: "outbox.revoke", params: { name: session.driver.name } },
  });
  await forget(session);
  outbox.flush();
}

async function forget(session) {
  gps.stop();
  stopBatching();
  const id = session.driver.id;
  await store.remove("session");
  for (const name of ["me", "routes", "reasons", "results", "refreshed"]) {
    await store.remove(`${name}:${id}`);
  }
  await store.removePrefix(`chat:${id}:`);
  Object.assign(state, {
    session: null,
    me: null,
    snapshot: [],
    reasons: [],
    results: {},
    chats: {},
    news: [],
    refreshedAt: null,
  });
  await reloadQueue();
  changed("session");
}

async function expire(session) {
  if (state.session !== session) return;
  state.expired = true;
  await forget(session);
}

// Reading from the server --------------------------------------------------------------------

let refreshing = null;
let sentLog = null; // the answers to writes sent while a refresh is reading

/** Reads the driver, today's routes and the failure reasons, after sending what is waiting. */
export function refresh() {
  refreshing ??= readAll().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function readAll() {
  const session = state.session;
  if (!session || !navigator.onLine) return;
  state.refreshing = true;
  changed("status");
  try {
    await outbox.flush();
    sentLog = [];
    const read = (path) => api.request("GET", path, { token: session.token });
    const [me, routes, reasons] = await Promise.all([
      read("me"),
      read("routes"),
      read("failure-reasons"),
    ]);
    if (state.session !== session) return;
    state.me = me;
    state.snapshot = routes.items;
    state.reasons = reasons.items;
    // A write answered while the routes were read may be newer than what was read.
    for (const [entry, data] of sentLog) applySent(entry, data);
    state.refreshedAt = new Date().toISOString();
    state.loadError = null;
    await save();
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 401) {
      await expire(session);
      return;
    }
    state.loadError = error instanceof api.NetworkError ? "network" : "server";
    if (!(error instanceof api.NetworkError)) console.error(error);
  } finally {
    sentLog = null;
    state.refreshing = false;
    follow();
    changed();
  }
}

async function save() {
  if (!state.session) return;
  await store.set(driverKey("me"), state.me);
  await store.set(driverKey("routes"), state.snapshot);
  await store.set(driverKey("reasons"), state.reasons);
  await store.set(driverKey("results"), state.results);
  await store.set(driverKey("refreshed"), state.refreshedAt);
}

// The queue ----------------------------------------------------------------------------------

let readAfterDrain = false;

async function onQueue(event) {
  if (event.type === "sent") {
    if (event.entry.kind !== "positions") readAfterDrain = true;
    if (state.session && event.entry.driverId === state.session.driver.id) {
      applySent(event.entry, event.data);
      sentLog?.push([event.entry, event.data]);
      await save();
    }
  } else if (event.type === "unauthorized") {
    const session = state.session;
    if (session && event.token === session.token) await expire(session);
  } else if (event.type === "drained" && readAfterDrain && !refreshing) {
    readAfterDrain = false;
    if (!waiting().length) refresh();
  }
  await reloadQueue();
  follow();
  changed();
}

function applySent(entry, data) {
  const stopId = entry.refs?.stopId;
  if (entry.kind === "route_start" || entry.kind === "route_finish") {
    state.snapshot = state.snapshot.map((route) => (route.id === data.id ? data : route));
  } else if (entry.kind.startsWith("stop_")) {
    const { missing_packages: missing, ...stop } = data;
    for (const route of state.snapshot) {
      route.stops = route.stops.map((each) => (each.id === stop.id ? stop : each));
    }
    if (missing) result(stop.id).missing = missing;
  } else if (entry.kind === "evidence" && data.kind !== "signature") {
    result(stopId).read.push({
      kind: data.kind,
      barcodes: data.barcodes,
      matched: data.matched_packages,
    });
  } else if (entry.kind === "message") {
    addMessages(entry.refs.routeId, [data]);
  }
}

function result(stopId) {
  state.results[stopId] ??= { read: [], missing: null };
  return state.results[stopId];
}

/** The driver's writes still to be sent. */
export function waiting() {
  if (!state.session) return [];
  return state.entries.filter(
    (entry) => entry.driverId === state.session.driver.id && entry.state === "waiting",
  );
}

// What the screens show: the server's routes with the waiting writes laid over them --------

export function routes() {
  const view = structuredClone(state.snapshot);
  const stops = new Map(view.flatMap((route) => route.stops.map((stop) => [stop.id, stop])));
  const byId = new Map(view.map((route) => [route.id, route]));
  for (const entry of waiting()) {
    const effect = entry.effect;
    const route = byId.get(entry.refs?.routeId);
    const stop = stops.get(entry.refs?.stopId);
    if (stop) stop.unsent = true;
    else if (route) route.unsent = true;
    if (effect?.route && route && ROUTE_MOVES[route.status]?.includes(effect.status)) {
      route.status = effect.status;
      if (effect.status === "in_progress") route.started_at = entry.recordedAt;
      if (effect.status === "finished") {
        route.finished_at = entry.recordedAt;
        for (const each of route.stops) if (each.status === "pending") each.status = "cancelled";
      }
    }
    if (effect?.stop && stop && STOP_MOVES[stop.status]?.includes(effect.status)) {
      stop.status = effect.status;
      if (effect.status === "in_progress") stop.started_at ??= entry.recordedAt;
      if (effect.status === "arrived") stop.arrived_at = entry.recordedAt;
      if (effect.status === "done" || effect.status === "failed") stop.left_at = entry.recordedAt;
    }
  }
  return view;
}

export function findRoute(id) {
  return routes().find((route) => route.id === id) ?? null;
}

export function findStop(id) {
  for (const route of routes()) {
    const stop = route.stops.find((each) => each.id === id);
    if (stop) return { route, stop };
  }
  return { route: null, stop: null };
}

// GPS ----------------------------------------------------------------------------------------

let batchTimer = null;
let batchEvery = 0;

function intervalS() {
  return Math.max(1, state.me?.settings?.position_interval_s ?? 30);
}

/** Watches the position while the driver has a route today; keeps the points while one runs. */
function follow() {
  if (!state.session) return;
  const view = routes();
  const running = view.some((route) => route.status === "in_progress");
  const ahead = running || view.some((route) => route.status === "planned");
  if (!ahead) {
    gps.stop();
  } else {
    gps.track({
      driver: state.session.driver.id,
      intervalS: intervalS(),
      buffer: running,
      listener: (status) => {
        const before = state.gps.ok;
        state.gps = status;
        if (status.buffered) state.buffered += 1;
        if (before !== status.ok || status.buffered) changed("status");
      },
    });
  }
  if (running && batchEvery !== intervalS()) {
    stopBatching();
    batchEvery = intervalS();
    batchTimer = setInterval(() => queuePositions().then(() => outbox.flush()), batchEvery * 1000);
  } else if (!running && batchTimer) {
    stopBatching();
    queuePositions().then(() => outbox.flush());
  }
}

function stopBatching() {
  clearInterval(batchTimer);
  batchTimer = null;
  batchEvery = 0;
}

async function queuePositions() {
  const session = state.session;
  if (!session) return;
  await outbox.batchPositions(session.driver.id, session.token, { key: "outbox.positions" });
}

// Actions: each one stored in the queue first -------------------------------------------------

function step() {
  return { recorded_at: phoneTime(), ...gps.here() };
}

async function write({ kind, path, json, form, effect, routeId, stopId, label }) {
  const session = state.session;
  await outbox.enqueue({
    kind,
    method: "POST",
    path,
    json,
    form,
    effect,
    refs: { routeId, stopId },
    label,
    driverId: session.driver.id,
    token: session.token,
    recordedAt: json?.recorded_at ?? form?.fields?.recorded_at ?? phoneTime(),
  });
}

async function written() {
  await reloadQueue();
  follow();
  changed();
  outbox.flush();
}

let acting = Promise.resolve();

/** Runs the driver's moves one at a time, each only if the route or stop, as the screens show it
 * now, still allows it: a double tap queues one write, not two. */
function move({ routeId, stopId, to }, action) {
  const run = acting.then(async () => {
    if (stopId) {
      const { route, stop } = findStop(stopId);
      if (route?.status !== "in_progress" || !STOP_MOVES[stop.status]?.includes(to)) return false;
    } else {
      const route = findRoute(routeId);
      if (!route || !ROUTE_MOVES[route.status]?.includes(to)) return false;
    }
    await action();
    return true;
  });
  acting = run.catch(() => {});
  return run;
}

const stopLabel = (route, stop) => ({
  sequence: stop.sequence,
  customer: stop.service.customer.name,
});

export function startRoute(route) {
  return move({ routeId: route.id, to: "in_progress" }, async () => {
    await write({
      kind: "route_start",
      path: `routes/${route.id}/start`,
      json: step(),
      effect: { route: route.id, status: "in_progress" },
      routeId: route.id,
      label: { key: "outbox.route_start", params: { date: route.date } },
    });
    await written();
  });
}

export function finishRoute(route) {
  return move({ routeId: route.id, to: "finished" }, async () => {
    await queuePositions(); // the points of the route go before its end
    await write({
      kind: "route_finish",
      path: `routes/${route.id}/finish`,
      json: step(),
      effect: { route: route.id, status: "finished" },
      routeId: route.id,
      label: { key: "outbox.route_finish", params: { date: route.date } },
    });
    await written();
  });
}

const STEPS = {
  start: "in_progress",
  arrive: "arrived",
  pause: "paused",
  resume: "in_progress",
};

export function stopStep(route, stop, action) {
  return move({ stopId: stop.id, to: STEPS[action] }, async () => {
    await write({
      kind: `stop_${action}`,
      path: `stops/${stop.id}/${action}`,
      json: step(),
      effect: { stop: stop.id, status: STEPS[action] },
      routeId: route.id,
      stopId: stop.id,
      label: { key: `outbox.stop_${action}`, params: stopLabel(route, stop) },
    });
    await written();
  });
}

async function evidence(route, stop, kind, blob, filename, recordedAt) {
  await write({
    kind: "evidence",
    path: `stops/${stop.id}/evidence`,
    form: { fields: { kind, recorded_at: recordedAt }, file: blob, filename },
    routeId: route.id,
    stopId: stop.id,
    label: { key: `outbox.evidence_${kind}`, params: stopLabel(route, stop) },
  });
}

/** A photo of a label, sent at once so the server reads its barcodes while the driver works. */
export async function sendLabel(route, stop, picture) {
  await evidence(route, stop, "label", picture.blob, picture.name, picture.recordedAt);
  await written();
}

/** The proof (signature, photos) first, then the completion, all in the queue in that order. */
export function completeStop(route, stop, proof) {
  return move({ stopId: stop.id, to: "done" }, () => queueCompletion(route, stop, proof));
}

async function queueCompletion(route, stop, proof) {
  if (proof.signature) {
    await evidence(
      route,
      stop,
      "signature",
      proof.signature.blob,
      "signature.png",
      proof.signature.recordedAt,
    );
  }
  for (const photo of proof.photos) {
    await evidence(route, stop, "photo", photo.blob, photo.name, photo.recordedAt);
  }
  await write({
    kind: "stop_complete",
    path: `stops/${stop.id}/complete`,
    json: {
      ...step(),
      receiver_name: proof.receiverName,
      receiver_document: proof.receiverDocument,
      comment: proof.comment,
      barcodes: proof.barcodes,
    },
    effect: { stop: stop.id, status: "done" },
    routeId: route.id,
    stopId: stop.id,
    label: { key: "outbox.stop_complete", params: stopLabel(route, stop) },
  });
  await written();
}

export function failStop(route, stop, reason, description) {
  return move({ stopId: stop.id, to: "failed" }, async () => {
    await write({
      kind: "stop_fail",
      path: `stops/${stop.id}/fail`,
      json: { ...step(), reason_id: reason.id, description },
      effect: { stop: stop.id, status: "failed" },
      routeId: route.id,
      stopId: stop.id,
      label: {
        key: "outbox.stop_fail",
        params: { ...stopLabel(route, stop), reason: reason.description },
      },
    });
    await written();
  });
}

// Chat ---------------------------------------------------------------------------------------

function chat(routeId) {
  state.chats[routeId] ??= { messages: [], loaded: false };
  return state.chats[routeId];
}

function addMessages(routeId, messages) {
  const thread = chat(routeId);
  const known = new Set(thread.messages.map((message) => message.id));
  const added = messages.filter((message) => !known.has(message.id));
  if (!added.length) return added;
  thread.messages = [...thread.messages, ...added].sort((a, b) => a.id - b.id);
  store.set(`chat:${state.session.driver.id}:${routeId}`, thread.messages);
  return added;
}

export async function chatMessages(routeId) {
  const thread = chat(routeId);
  if (!thread.loaded) {
    const cached = await store.get(`chat:${state.session.driver.id}:${routeId}`);
    addMessages(routeId, cached ?? []);
    thread.loaded = true;
  }
  return thread.messages;
}

/** Reads the route's new messages (the server marks support's as read). */
export async function pollChat(routeId) {
  const session = state.session;
  if (!session || !navigator.onLine) return [];
  const thread = chat(routeId);
  await chatMessages(routeId);
  const after = thread.messages.at(-1)?.id;
  const query = after ? `&after=${after}` : "";
  try {
    const data = await api.request("GET", `chat/messages?route=${routeId}${query}`, {
      token: session.token,
    });
    if (state.session !== session) return [];
    const added = addMessages(routeId, data.items);
    if (added.length) changed("chat");
    return added;
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 401) await expire(session);
    return [];
  }
}

/** Outside the chat screen: support's answers about the route under way, shown as a notice. */
async function watchChat() {
  const running = routes().find((route) => route.status === "in_progress");
  if (!running) return;
  const added = await pollChat(running.id);
  const answers = added.filter((message) => message.author === "support");
  if (answers.length) {
    state.news = [
      ...state.news,
      ...answers.map((message) => ({ ...message, routeId: running.id })),
    ];
    changed("news");
  }
}

export function dismissNews() {
  state.news = [];
  changed("news");
}

export function chatOpened(routeId) {
  state.chatOpen = routeId;
  if (routeId) state.news = state.news.filter((message) => message.routeId !== routeId);
}

export async function sendMessage(route, stopId, text) {
  await write({
    kind: "message",
    path: "chat/messages",
    json: stopId ? { route: route.id, stop: stopId, text } : { route: route.id, text },
    routeId: route.id,
    stopId: stopId || undefined,
    label: { key: "outbox.message", params: { text: text.slice(0, 40) } },
  });
  await written();
}

// The queue on screen ------------------------------------------------------------------------

export async function discard(entry) {
  await outbox.discard(entry.seq);
}

export function flush() {
  return outbox.flush();
}

export function sendNow() {
  outbox.flush();
  return refresh();
}

export function sending() {
  return outbox.busy();
}

export async function gpsPoints() {
  return state.session ? gps.buffered(state.session.driver.id) : 0;
}
