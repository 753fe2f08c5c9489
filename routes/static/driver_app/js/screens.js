// The screens that read: logging in, today's routes, a route's stops, a stop, what waits to be
// sent, and the menu.
import { ApiError, NetworkError } from "./api.js";
import { h } from "./dom.js";
import { clock, dateTime, day, mapsUrl, shortDay, telUrl } from "./format.js";
import { LANGUAGES, lang, t } from "./i18n.js";
import * as app from "./state.js";

const ACCOUNT_KEY = "driver-app:account";

// Pieces ---------------------------------------------------------------------------------------

const timeZone = () => app.state.me?.settings?.time_zone;
const at = (value) => clock(value, lang(), timeZone());

export function badge(status, unsent = false) {
  return [
    h(
      "span",
      { class: `status ${status}`, testid: "status", dataset: { status } },
      t(`status.${status}`),
    ),
    unsent
      ? [" ", h("span", { class: "status pending-sync", testid: "unsent" }, t("sync.unsent"))]
      : null,
  ];
}

export function windowText(window) {
  if (!window) return "";
  if (window.start && window.end) return `${at(window.start)}–${at(window.end)}`;
  if (window.end) return t("stop.until", { time: dateTime(window.end, lang(), timeZone()) });
  return t("stop.from", { time: at(window.start) });
}

export function etaText(stop) {
  if (stop.eta_window) return `${at(stop.eta_window.earliest)}–${at(stop.eta_window.latest)}`;
  if (stop.eta_at) return at(stop.eta_at);
  if (stop.planned_arrival) return t("stop.planned", { time: at(stop.planned_arrival) });
  return "";
}

function languagePicker(switchLanguage) {
  return [
    h("label", { for: "language" }, t("menu.language")),
    h(
      "select",
      {
        id: "language",
        testid: "language",
        on: { change: (event) => switchLanguage(event.target.value) },
      },
      LANGUAGES.map((language) =>
        h("option", { value: language.code, selected: language.code === lang() }, language.name),
      ),
    ),
  ];
}

function facts(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows
      .filter(([, value]) => value)
      .map(([name, value, testid]) => [h("dt", {}, name), h("dd", { testid }, value)]),
  );
}

function waitingElsewhere() {
  const others = app.state.entries.filter(
    (entry) => entry.state === "waiting" && entry.driverId !== app.state.session?.driver.id,
  );
  if (!others.length) return null;
  return h(
    "p",
    { class: "notice warn", testid: "waiting-elsewhere" },
    t("login.waiting", { count: others.length }),
    " ",
    h("a", { href: "#/outbox" }, t("outbox.title")),
  );
}

// Logging in -----------------------------------------------------------------------------------

export function loginScreen({ go, switchLanguage }) {
  const account = h("input", {
    id: "account",
    type: "text",
    name: "account",
    autocomplete: "organization",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
    value: localStorage.getItem(ACCOUNT_KEY) ?? "",
  });
  const username = h("input", {
    id: "username",
    type: "text",
    name: "username",
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
  });
  const password = h("input", {
    id: "password",
    type: "password",
    name: "password",
    autocomplete: "current-password",
    required: true,
  });
  const error = h("p", {
    class: "notice error",
    role: "alert",
    hidden: true,
    testid: "login-error",
  });
  const submit = h(
    "button",
    { type: "submit", class: "primary", testid: "log-in" },
    t("login.submit"),
  );

  async function logIn(event) {
    event.preventDefault();
    error.hidden = true;
    const slug = account.value.trim().toLowerCase();
    const name = username.value.trim();
    // A driver may type the whole login (`acme.ana`) as the username.
    const login = slug ? `${slug}.${name}` : name;
    submit.disabled = true;
    try {
      await app.logIn(login, password.value);
      localStorage.setItem(ACCOUNT_KEY, slug);
      go("#/", { replace: true });
    } catch (failure) {
      let message = t("login.failed");
      if (failure instanceof NetworkError) message = t("login.offline");
      else if (failure instanceof ApiError && failure.status === 401) message = t("login.wrong");
      else if (failure instanceof ApiError && failure.status === 429)
        message = t("login.throttled");
      error.textContent = message;
      error.hidden = false;
      submit.disabled = false;
    }
  }

  const node = h(
    "section",
    { testid: "login" },
    h("h2", {}, t("login.title")),
    app.state.expired ? h("p", { class: "notice warn" }, t("login.expired")) : null,
    waitingElsewhere(),
    h(
      "form",
      { on: { submit: logIn }, novalidate: true },
      h("label", { for: "account" }, t("login.account")),
      account,
      h("label", { for: "username" }, t("login.username")),
      username,
      h("label", { for: "password" }, t("login.password")),
      password,
      error,
      submit,
    ),
    languagePicker(switchLanguage),
  );
  return { title: t("app.name"), node, live: false };
}

// Today's routes -------------------------------------------------------------------------------

function loadState() {
  if (app.state.refreshing && !app.state.refreshedAt)
    return h("p", { class: "muted" }, t("app.loading"));
  if (app.state.loadError === "network" && !app.state.refreshedAt) {
    return h("p", { class: "notice warn" }, t("routes.offline_empty"));
  }
  return null;
}

export function homeScreen() {
  const view = app.routes();
  const node = h(
    "section",
    { testid: "routes" },
    h("h2", {}, t("routes.today")),
    loadState(),
    view.length === 0 && app.state.refreshedAt
      ? h("p", { class: "notice", testid: "no-routes" }, t("routes.none"))
      : null,
    h(
      "ul",
      { class: "cards" },
      view.map((route) => {
        const open = route.stops.filter((stop) => stop.status !== "cancelled");
        const done = open.filter((stop) => ["done", "failed"].includes(stop.status)).length;
        return h(
          "li",
          {},
          h(
            "a",
            { class: "card", href: `#/route/${route.id}`, testid: "route" },
            h(
              "span",
              { class: "title" },
              t("route.title", { date: day(route.date, lang()) }),
              " ",
              badge(route.status, route.unsent),
            ),
            h("span", {}, t("route.progress", { done, total: open.length })),
          ),
        );
      }),
    ),
    h(
      "button",
      {
        type: "button",
        testid: "refresh",
        on: { click: () => app.sendNow() },
        disabled: !navigator.onLine,
      },
      t("routes.refresh"),
    ),
    app.state.refreshedAt
      ? h("p", { class: "muted" }, t("routes.updated", { time: at(app.state.refreshedAt) }))
      : null,
  );
  return { title: t("app.name"), node };
}

// A route --------------------------------------------------------------------------------------

let confirmingFinish = null;

export function routeScreen({ params: [routeId], go }) {
  const again = () => go(location.hash);
  const route = app.findRoute(routeId);
  if (!route) return missing();
  const underWay = route.stops.some((stop) => app.UNDER_WAY.includes(stop.status));
  const actions = [];
  if (route.status === "planned") {
    actions.push(
      h(
        "button",
        {
          type: "button",
          class: "primary wide",
          testid: "start-route",
          on: { click: () => app.startRoute(route) },
        },
        t("route.start"),
      ),
    );
  } else if (route.status === "in_progress") {
    if (confirmingFinish === route.id) {
      const pending = route.stops.filter((stop) => stop.status === "pending").length;
      actions.push(
        h(
          "div",
          { class: "notice warn wide" },
          pending ? t("route.finish_pending", { count: pending }) : t("route.finish_sure"),
          h(
            "button",
            {
              type: "button",
              class: "bad",
              testid: "confirm-finish",
              on: {
                click: () => {
                  confirmingFinish = null;
                  app.finishRoute(route);
                },
              },
            },
            t("route.finish_yes"),
          ),
          h(
            "button",
            {
              type: "button",
              on: {
                click: () => {
                  confirmingFinish = null;
                  again();
                },
              },
            },
            t("app.cancel"),
          ),
        ),
      );
    } else {
      actions.push(
        h(
          "button",
          {
            type: "button",
            class: "wide",
            testid: "finish-route",
            disabled: underWay,
            on: {
              click: () => {
                confirmingFinish = route.id;
                again();
              },
            },
          },
          t("route.finish"),
        ),
      );
      if (underWay) actions.push(h("p", { class: "muted wide" }, t("route.finish_blocked")));
    }
  }
  const node = h(
    "section",
    { testid: "route-screen" },
    h(
      "h2",
      {},
      t("route.title", { date: day(route.date, lang()) }),
      " ",
      badge(route.status, route.unsent),
    ),
    h(
      "div",
      { class: "buttons" },
      actions,
      h(
        "a",
        { class: "button wide", href: `#/route/${route.id}/chat`, testid: "open-chat" },
        t("chat.title"),
      ),
    ),
    route.status === "planned" ? h("p", { class: "notice" }, t("route.start_first")) : null,
    h(
      "ol",
      { class: "cards", testid: "stops" },
      route.stops.map((stop) => {
        const service = stop.service;
        const closed = ["done", "failed", "cancelled"].includes(stop.status);
        return h(
          "li",
          {},
          h(
            "a",
            {
              class: `card${closed ? " closed" : ""}`,
              href: `#/stop/${stop.id}`,
              testid: "stop",
              dataset: { stop: stop.id },
            },
            h(
              "span",
              { class: "title" },
              h("span", { class: "seq" }, stop.sequence),
              h("span", {}, service.customer.name),
            ),
            h("span", { class: "line" }, badge(stop.status, stop.unsent)),
            h("span", { class: "line" }, service.address.line),
            facts([
              [t("stop.window"), windowText(service.window)],
              [t("stop.eta"), closed ? "" : etaText(stop), "eta"],
              [t("stop.packages"), service.packages.length ? String(service.packages.length) : ""],
            ]),
          ),
        );
      }),
    ),
  );
  return { title: t("route.short", { date: shortDay(route.date, lang()) }), back: "#/", node };
}

function missing() {
  return {
    title: t("app.name"),
    back: "#/",
    node: h("p", { class: "notice" }, t("app.not_found")),
  };
}

// A stop ---------------------------------------------------------------------------------------

export function stopScreen({ params: [stopId] }) {
  const { route, stop } = app.findStop(stopId);
  if (!stop) return missing();
  const service = stop.service;
  const address = service.address;
  const phone = telUrl(service.customer.phone);
  const running = route.status === "in_progress";
  const moves = running ? app.STOP_MOVES[stop.status] : [];
  const step = (action, className, testid) =>
    h(
      "button",
      {
        type: "button",
        class: className,
        testid,
        on: { click: () => app.stopStep(route, stop, action) },
      },
      t(`stop.${action}`),
    );
  const actions = [];
  if (stop.status === "pending" && moves.includes("in_progress"))
    actions.push(step("start", "primary wide", "stop-start"));
  if (moves.includes("arrived")) actions.push(step("arrive", "primary wide", "stop-arrive"));
  if (moves.includes("done")) {
    actions.push(
      h(
        "a",
        { class: "button good", href: `#/stop/${stop.id}/complete`, testid: "stop-complete" },
        t("stop.complete"),
      ),
    );
  }
  if (moves.includes("failed")) {
    actions.push(
      h(
        "a",
        { class: "button bad", href: `#/stop/${stop.id}/fail`, testid: "stop-fail" },
        t("stop.fail"),
      ),
    );
  }
  if (moves.includes("paused")) actions.push(step("pause", "wide", "stop-pause"));
  if (stop.status === "paused" && moves.includes("in_progress"))
    actions.push(step("resume", "primary wide", "stop-resume"));

  const read = app.state.results[stop.id];
  const node = h(
    "section",
    { testid: "stop-screen", dataset: { stop: stop.id } },
    h("h2", {}, h("span", { class: "seq" }, `${stop.sequence}. `), service.customer.name),
    h("p", {}, badge(stop.status, stop.unsent)),
    !running && route.status === "planned"
      ? h("p", { class: "notice" }, t("route.start_first"))
      : null,
    h("div", { class: "buttons" }, actions),
    h(
      "div",
      { class: "buttons" },
      h(
        "a",
        { class: "button", href: mapsUrl(address), testid: "open-map", rel: "noopener" },
        t("stop.map"),
      ),
      phone ? h("a", { class: "button", href: phone, testid: "call" }, t("stop.call")) : null,
    ),
    facts([
      [t("stop.address"), address.line, "address"],
      [t("stop.complement"), address.complement],
      [t("stop.phone"), service.customer.phone],
      [t("stop.window"), windowText(service.window), "window"],
      [t("stop.eta"), etaText(stop), "eta"],
      [t("stop.order"), service.order_number],
      [t("stop.type"), t(`type.${service.type}`)],
      [t("stop.notes"), service.description],
    ]),
    h("h3", {}, t("stop.packages")),
    service.packages.length
      ? h(
          "ul",
          { class: "packages" },
          service.packages.map((item) =>
            h(
              "li",
              {},
              h("strong", {}, item.barcode),
              item.description ? ` — ${item.description}` : "",
            ),
          ),
        )
      : h("p", { class: "muted" }, t("stop.no_packages")),
    read ? proofRead(read) : null,
    h(
      "a",
      { class: "button", href: `#/route/${route.id}/chat/${stop.id}`, testid: "stop-chat" },
      t("chat.about_stop"),
    ),
  );
  return { title: t("stop.short", { sequence: stop.sequence }), back: `#/route/${route.id}`, node };
}

export function proofRead(read) {
  const matched = [...new Set(read.read.flatMap((item) => item.matched))];
  return h(
    "div",
    { class: "notice", testid: "proof-read" },
    matched.length ? h("p", {}, t("proof.read", { codes: matched.join(", ") })) : null,
    read.read.length && !matched.length ? h("p", {}, t("proof.read_none")) : null,
    read.missing?.length
      ? h("p", {}, t("proof.missing", { codes: read.missing.join(", ") }))
      : null,
  );
}

// What waits to be sent ------------------------------------------------------------------------

function entryText(entry) {
  if (entry.kind === "positions")
    return t("outbox.positions", { count: entry.json.positions.length });
  const label = entry.label ?? { key: "outbox.write" };
  return t(label.key, label.params ?? {});
}

export function outboxScreen() {
  const entries = app.state.entries;
  const node = h(
    "section",
    { testid: "outbox" },
    h("h2", {}, t("outbox.title")),
    h("p", {}, navigator.onLine ? t("outbox.online") : t("outbox.offline")),
    app.state.buffered
      ? h("p", { testid: "gps-buffered" }, t("outbox.buffered", { count: app.state.buffered }))
      : null,
    entries.length === 0
      ? h("p", { class: "notice good", testid: "outbox-empty" }, t("outbox.empty"))
      : null,
    h(
      "ol",
      { class: "cards outbox" },
      entries.map((entry) =>
        h(
          "li",
          {
            testid: "outbox-entry",
            dataset: { kind: entry.kind, state: entry.state },
            class: entry.state,
          },
          h("strong", {}, entryText(entry)),
          h("br"),
          h(
            "span",
            { class: "muted" },
            t("outbox.when", { time: dateTime(entry.recordedAt, lang()) }),
          ),
          entry.state === "rejected"
            ? [
                h(
                  "p",
                  {},
                  t("outbox.rejected", {
                    message: entry.error?.message || entry.error?.code || "",
                  }),
                ),
                h(
                  "button",
                  { type: "button", on: { click: () => app.discard(entry) } },
                  t("outbox.discard"),
                ),
              ]
            : h(
                "p",
                { class: "muted" },
                entry.blocked
                  ? t("outbox.blocked")
                  : entry.attempts
                    ? t("outbox.tried", { count: entry.attempts })
                    : t("outbox.not_tried"),
              ),
        ),
      ),
    ),
    h(
      "button",
      {
        type: "button",
        class: "primary",
        testid: "send-now",
        disabled: !navigator.onLine,
        on: { click: () => app.sendNow() },
      },
      t("outbox.send_now"),
    ),
  );
  return { title: t("outbox.title"), back: "#/", node, status: true };
}

// Menu -----------------------------------------------------------------------------------------

let confirmingLogout = false;

export function menuScreen({ go, switchLanguage }) {
  const session = app.state.session;
  const me = app.state.me;
  const waiting = app.waiting().length;
  const logOut = async () => {
    if (waiting && !confirmingLogout) {
      confirmingLogout = true;
      go("#/menu");
      return;
    }
    confirmingLogout = false;
    await app.logOut();
    go("#/login", { replace: true });
  };
  const node = h(
    "section",
    { testid: "menu-screen" },
    h("h2", {}, t("menu.title")),
    session
      ? facts([
          [t("menu.driver"), session.driver.name, "driver-name"],
          [t("menu.login"), session.login],
          [t("menu.account"), me?.account?.name],
          [t("menu.vehicle"), me?.vehicle ? `${me.vehicle.plate}` : ""],
        ])
      : null,
    languagePicker(switchLanguage),
    h("a", { class: "button", href: "#/outbox" }, t("outbox.title")),
    session && confirmingLogout
      ? h("p", { class: "notice warn" }, t("menu.logout_waiting", { count: waiting }))
      : null,
    session
      ? h(
          "button",
          { type: "button", class: "bad", testid: "log-out", on: { click: logOut } },
          t("menu.logout"),
        )
      : null,
    session ? null : h("a", { class: "button primary", href: "#/login" }, t("login.submit")),
  );
  return { title: t("menu.title"), back: "#/", node, live: false };
}
