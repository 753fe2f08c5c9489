// The driver app's service worker: keeps the app's shell and files so the app opens without a
// network. Rendered by routes.driver_app_views with this deploy's file list and version; any
// change to the files changes these bytes, so phones install the new worker.
const VERSION = "{{ version }}";
const SHELL = "{{ shell_url }}";
const ASSETS = {{ assets_json|safe }};
const CACHE = `driver-app-${VERSION}`;
const PREFIX = "driver-app-";

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // "reload": the files' HTTP caching must not hand an older copy to the new version.
      await cache.addAll([SHELL, ...ASSETS].map((url) => new Request(url, { cache: "reload" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

// Cache first for the shell and the app's files; everything else (the API above all) is left to
// the network, so the app itself decides what to queue when it is offline.
self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === SHELL) {
    event.respondWith(fromCache(SHELL, request));
  } else if (ASSETS.includes(url.pathname)) {
    event.respondWith(fromCache(url.pathname, request));
  }
});

async function fromCache(key, request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(key);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) await cache.put(key, response.clone());
  return response;
}

self.addEventListener("message", (event) => {
  if (event.data === "version") event.source?.postMessage({ version: VERSION });
});
