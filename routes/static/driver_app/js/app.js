// The driver app: boot, the screens' router, the top bar and notices. Everything it shows comes
// from the public driver API, read with the device token and kept on the phone for offline use.
import { configure } from "./api.js";
import { chatScreen } from "./chat.js";
import { h, replace } from "./dom.js";
import * as i18n from "./i18n.js";
import { completeScreen, failScreen } from "./proof.js";
import {
  homeScreen,
  loginScreen,
  menuScreen,
  outboxScreen,
  routeScreen,
  stopScreen,
} from "./screens.js";
import * as app from "./state.js";

const { t } = i18n;
const root = document.getElementById("app");
const config = root.dataset;

const SCREENS = [
  [/^#\/login$/, loginScreen, { public: true }],
  [/^#\/outbox$/, outboxScreen, { public: true }],
  [/^#\/menu$/, menuScreen, { public: true }],
  [/^#\/?$/, homeScreen],
  [/^#\/route\/(\d+)$/, routeScreen],
  [/^#\/route\/(\d+)\/chat(?:\/(\d+))?$/, chatScreen],
  [/^#\/stop\/(\d+)$/, stopScreen],
  [/^#\/stop\/(\d+)\/complete$/, completeScreen],
  [/^#\/stop\/(\d+)\/fail$/, failScreen],
];

const bar = h("header", { class: "bar" });
const notices = h("div", { class: "notices", role: "status", "aria-live": "polite" });
const main = h("main", { id: "screen" });
let current = null;
let updateReady = false;

export function go(hash, { replace: replacing = false } = {}) {
  if (location.hash === hash) {
    show();
  } else if (replacing) {
    history.replaceState(null, "", hash);
    show();
  } else {
    location.hash = hash;
  }
}

function match(hash) {
  for (const [pattern, screen, options] of SCREENS) {
    const found = pattern.exec(hash || "#/");
    if (found) return { screen, options: options ?? {}, params: found.slice(1) };
  }
  return null;
}

function context(found) {
  const params = found.params.map((value) => (value ? Number(value) : null));
  return { params, go, switchLanguage };
}

function show() {
  let found = match(location.hash);
  if (!found) return go("#/", { replace: true });
  if (!app.state.session && !found.options.public) return go("#/login", { replace: true });
  if (app.state.session && found.screen === loginScreen) return go("#/", { replace: true });
  current?.destroy?.();
  current = found.screen(context(found));
  found = null;
  drawBar();
  drawNotices();
  replace(main, current.node);
  current.mounted?.();
  window.scrollTo(0, 0);
}

function redraw(what) {
  drawBar();
  drawNotices();
  if (!current) return;
  if (what === "session" && !app.state.session) return go("#/login", { replace: true });
  if (current.update) {
    current.update(what);
    return;
  }
  // GPS and network news change the bar; a screen is drawn again only when its data changed,
  // and left alone when it would look the same (a finger may be on one of its buttons).
  if (current.live === false || what === "news" || (what === "status" && !current.status)) return;
  const found = match(location.hash);
  if (!found) return;
  const next = found.screen(context(found));
  if (next.node.isEqualNode(main.firstChild)) {
    next.destroy?.();
    return;
  }
  const scroll = window.scrollY;
  current.destroy?.();
  current = next;
  replace(main, current.node);
  current.mounted?.();
  window.scrollTo(0, scroll);
}

function syncText() {
  const waiting = app.state.entries.filter((entry) => entry.state === "waiting");
  const rejected = app.state.entries.filter((entry) => entry.state === "rejected");
  const points =
    app.state.buffered +
    waiting
      .filter((entry) => entry.kind === "positions")
      .reduce((sum, entry) => sum + entry.json.positions.length, 0);
  const writes = waiting.filter((entry) => entry.kind !== "positions").length;
  if (rejected.length)
    return { text: t("sync.rejected", { count: rejected.length }), kind: "rejected" };
  if (!navigator.onLine)
    return { text: t("sync.offline", { count: writes }), kind: "offline", points };
  if (writes) return { text: t("sync.waiting", { count: writes }), kind: "waiting", points };
  return { text: t("sync.ok"), kind: "ok", points };
}

function drawBar() {
  const sync = syncText();
  const back = current?.back;
  replace(
    bar,
    back ? h("a", { href: back, "aria-label": t("nav.back"), testid: "back" }, "←") : null,
    h("h1", {}, current?.title ?? t("app.name")),
    h(
      "a",
      {
        href: "#/outbox",
        class: `sync ${sync.kind}`,
        testid: "sync",
        dataset: { waiting: String(sync.kind === "waiting" || sync.kind === "offline") },
        title: t("sync.title"),
      },
      sync.text,
    ),
    app.state.session
      ? h("a", { href: "#/menu", "aria-label": t("nav.menu"), testid: "menu" }, "☰")
      : null,
  );
}

function drawNotices() {
  const items = [];
  if (updateReady) {
    items.push(
      h(
        "div",
        { class: "notice" },
        t("app.updated"),
        h("button", { type: "button", on: { click: () => location.reload() } }, t("app.reload")),
      ),
    );
  }
  if (!navigator.onLine && app.state.session) {
    items.push(h("div", { class: "notice warn", testid: "offline" }, t("app.offline")));
  }
  const running = app.routes().some((route) => route.status === "in_progress");
  if (running && app.state.gps.ok === false) {
    items.push(
      h("div", { class: "notice warn", testid: "gps-off" }, t(`gps.${app.state.gps.code}`)),
    );
  }
  for (const message of app.state.news) {
    items.push(
      h(
        "div",
        { class: "notice", testid: "news" },
        h("strong", {}, t("chat.from_support")),
        " ",
        message.text,
        h(
          "a",
          {
            class: "button primary",
            href: `#/route/${message.routeId}/chat`,
            on: { click: () => app.dismissNews() },
          },
          t("chat.open"),
        ),
      ),
    );
  }
  replace(notices, items);
}

async function registerWorker() {
  if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
  const hadController = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    // A new version took over; the first install on this phone needs no reload.
    if (!hadController) return;
    updateReady = true;
    drawNotices();
  });
  try {
    await navigator.serviceWorker.register(config.worker, { scope: config.scope });
  } catch (error) {
    console.error("service worker", error);
  }
}

async function boot() {
  configure(config.api);
  await i18n.use(i18n.chosen());
  root.replaceChildren(bar, notices, main);
  registerWorker();
  navigator.storage?.persist?.().catch(() => {});
  app.subscribe(redraw);
  await app.init();
  window.addEventListener("hashchange", show);
  window.addEventListener("online", () => {
    redraw("status");
    app.sendNow();
  });
  window.addEventListener("offline", () => redraw("status"));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") app.sendNow();
  });
  setInterval(() => app.flush(), 15_000);
  show();
  if (app.state.session) app.sendNow();
  root.dataset.ready = "true";
}

async function switchLanguage(code) {
  await i18n.use(code, { remember: true });
  show();
}

boot().catch((error) => {
  console.error(error);
  replace(root, h("p", { class: "boot" }, String(error)));
});
