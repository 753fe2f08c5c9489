// The queue of writes: every action, message, photo and batch of positions is stored here first,
// with the phone time it happened and its own Idempotency-Key, then sent in order when there is a
// network. A write the server may have received (the answer was lost) is sent again with the same
// key, and the server answers the first response instead of doing it twice.
import { ApiError, NetworkError, request } from "./api.js";
import { db } from "./store.js";

export const MAX_POSITIONS = 500;
const RETRY_FIRST_MS = 2_000;
const RETRY_MAX_MS = 60_000;

const listeners = new Set();
let running = null;
let again = false;
let retryTimer = null;
let retryDelay = RETRY_FIRST_MS;

export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function emit(event) {
  for (const listener of listeners) {
    try {
      listener(event);
    } catch (error) {
      console.error(error);
    }
  }
}

export function newKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Stores a write to be sent; it is on the phone once this resolves. */
export async function enqueue(entry) {
  const record = {
    key: newKey(),
    state: "waiting",
    attempts: 0,
    createdAt: new Date().toISOString(),
    ...entry,
  };
  record.seq = await (await db()).add("outbox", record);
  emit({ type: "changed" });
  return record;
}

export async function all() {
  return (await db()).getAll("outbox");
}

export async function discard(seq) {
  await (await db()).delete("outbox", seq);
  emit({ type: "changed" });
}

/** After the driver logs in again, their writes still waiting go with the new token (the server
 * keeps Idempotency-Keys per driver, so a replay still finds its first answer). */
export async function retoken(driverId, token) {
  const tx = (await db()).transaction("outbox", "readwrite");
  for (const entry of await tx.store.getAll()) {
    if (entry.driverId === driverId && entry.kind !== "revoke" && entry.token !== token) {
      entry.token = token;
      entry.blocked = false;
      await tx.store.put(entry);
    }
  }
  await tx.done;
  emit({ type: "changed" });
}

/** Adds GPS points to the last batch if it was never sent (so its body is not fixed yet), or to
 * new batches of at most MAX_POSITIONS, and removes them from the buffer, in one transaction. */
export async function batchPositions(driverId, token, label) {
  const database = await db();
  const tx = database.transaction(["positions", "outbox"], "readwrite");
  const range = IDBKeyRange.bound([driverId, ""], [driverId, "\uffff"]);
  const points = await tx.objectStore("positions").getAll(range);
  if (points.length === 0) {
    await tx.done;
    return 0;
  }
  const outbox = tx.objectStore("outbox");
  const cursor = await outbox.openCursor(null, "prev");
  let batch = cursor?.value;
  const open =
    batch &&
    batch.kind === "positions" &&
    batch.state === "waiting" &&
    batch.attempts === 0 &&
    batch.driverId === driverId &&
    batch.token === token &&
    batch.json.positions.length < MAX_POSITIONS;
  if (!open) batch = null;
  for (const point of points) {
    if (!batch) {
      batch = {
        key: newKey(),
        state: "waiting",
        attempts: 0,
        createdAt: new Date().toISOString(),
        kind: "positions",
        method: "POST",
        path: "positions",
        driverId,
        token,
        label,
        json: { positions: [] },
      };
    }
    const { driverId: _driver, ...sent } = point;
    batch.json.positions.push(sent);
    batch.recordedAt = point.recorded_at;
    if (batch.json.positions.length >= MAX_POSITIONS) {
      await outbox.put(batch);
      batch = null;
    }
  }
  if (batch) await outbox.put(batch);
  await tx.objectStore("positions").delete(range);
  await tx.done;
  emit({ type: "changed" });
  return points.length;
}

function transient(error) {
  if (!(error instanceof ApiError)) return false;
  if (error.status === 409 && error.code === "request_in_progress") return true;
  return error.status === 408 || error.status === 429 || error.status >= 500;
}

/** Sends what is waiting, oldest first; one run at a time (a call during a run runs it again). */
export function flush() {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    try {
      do {
        again = false;
        // One sender across the app's tabs: two would send the same write at once.
        if (navigator.locks) await navigator.locks.request("driver-app-outbox", flushOnce);
        else await flushOnce();
      } while (again);
    } catch (error) {
      // Not an answer from the server (those are handled above): the phone's storage, a bug.
      console.error("outbox", error);
      retryLater();
    } finally {
      running = null;
    }
  })();
  return running;
}

export function busy() {
  return running !== null;
}

function retryLater() {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(flush, retryDelay);
  retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
}

async function flushOnce() {
  if (!navigator.onLine) return;
  const database = await db();
  // Drivers whose token was refused in this run: their later writes wait for them to log in.
  const blocked = new Set();
  for (const seq of await database.getAllKeys("outbox")) {
    // Counted as tried in the same transaction that reads it: from here on its body is fixed.
    const tx = database.transaction("outbox", "readwrite");
    const entry = await tx.store.get(seq);
    if (!entry || entry.state !== "waiting") {
      await tx.done;
      continue;
    }
    // A driver's writes go in order: after one that waits for them to log in, the rest wait
    // too. A logout goes anyway: it only ends a token.
    if (entry.blocked) blocked.add(entry.driverId);
    if (entry.kind !== "revoke" && blocked.has(entry.driverId)) {
      await tx.done;
      continue;
    }
    entry.attempts += 1;
    entry.triedAt = new Date().toISOString();
    await tx.store.put(entry);
    await tx.done;

    let data;
    try {
      data = await request(entry.method, entry.path, {
        token: entry.token,
        json: entry.json,
        form: entry.form,
        key: entry.key,
      });
    } catch (error) {
      if (error instanceof NetworkError || transient(error)) {
        await note(seq, { status: error.status ?? 0, code: error.code ?? "network" });
        emit({ type: "changed" });
        retryLater();
        return;
      }
      if (error.status === 401) {
        if (entry.kind === "revoke") {
          await database.delete("outbox", seq); // that token is revoked already
          continue;
        }
        blocked.add(entry.driverId);
        await note(seq, { status: 401, code: error.code }, { blocked: true });
        emit({ type: "unauthorized", driverId: entry.driverId, token: entry.token });
        continue;
      }
      // The server refused it and would refuse it again: keep it to show, then move on.
      await note(
        seq,
        { status: error.status, code: error.code, message: error.message, fields: error.fields },
        { state: "rejected" },
      );
      emit({ type: "rejected", entry });
      continue;
    }
    await database.delete("outbox", seq);
    retryDelay = RETRY_FIRST_MS;
    emit({ type: "sent", entry, data });
  }
  emit({ type: "changed" });
  emit({ type: "drained" });
}

async function note(seq, error, changes = {}) {
  const tx = (await db()).transaction("outbox", "readwrite");
  const entry = await tx.store.get(seq);
  if (entry) await tx.store.put({ ...entry, error, ...changes });
  await tx.done;
}
