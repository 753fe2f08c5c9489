// The phone's own storage (IndexedDB): the session and the last data read from the server, the
// queue of writes waiting to be sent, and the GPS points not yet batched. It outlives the app
// being closed, reloaded or offline.
import { openDB } from "../../vendor/idb/idb.js";

const NAME = "driver-app";
let opening = null;

export function db() {
  opening ??= openDB(NAME, 1, {
    upgrade(database) {
      database.createObjectStore("kv");
      // Writes in the order the driver made them: the key is their place in the queue.
      database.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
      // One point per driver and phone time, as the server keeps them.
      database.createObjectStore("positions", { keyPath: ["driverId", "recorded_at"] });
    },
  });
  return opening;
}

export async function get(key) {
  return (await db()).get("kv", key);
}

export async function set(key, value) {
  return (await db()).put("kv", value, key);
}

export async function remove(key) {
  return (await db()).delete("kv", key);
}

export async function removePrefix(prefix) {
  return (await db()).delete("kv", IDBKeyRange.bound(prefix, `${prefix}\uffff`));
}
