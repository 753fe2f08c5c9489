// The chat with support about a route (or one of its stops): the route's messages, new ones read
// every few seconds while the screen is open, and what the driver writes queued like any write.
import { h, replace } from "./dom.js";
import { dateTime } from "./format.js";
import { lang, t } from "./i18n.js";
import * as app from "./state.js";

const POLL_MS = 4_000;

export function chatScreen({ params: [routeId, stopId] }) {
  const route = app.findRoute(routeId);
  if (!route)
    return {
      title: t("chat.title"),
      back: "#/",
      node: h("p", { class: "notice" }, t("app.not_found")),
    };
  const stop = stopId ? route.stops.find((each) => each.id === stopId) : null;
  const list = h("ol", { class: "messages", testid: "messages", "aria-live": "polite" });
  const text = h("textarea", {
    id: "chat-text",
    maxlength: 2000,
    testid: "chat-text",
    required: true,
  });
  let timer = null;
  let alive = true;
  const when = (value) => dateTime(value, lang(), app.state.me?.settings?.time_zone);

  async function draw() {
    const messages = await app.chatMessages(route.id);
    const queued = app
      .waiting()
      .filter((entry) => entry.kind === "message" && entry.refs.routeId === route.id);
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    replace(
      list,
      messages.map((message) =>
        h(
          "li",
          {
            class: `message ${message.author}`,
            testid: "message",
            dataset: { author: message.author, id: message.id },
          },
          message.text,
          h(
            "span",
            { class: "meta" },
            `${t(`chat.author_${message.author}`)} · ${when(message.created_at)}`,
          ),
        ),
      ),
      queued.map((entry) =>
        h(
          "li",
          {
            class: "message driver queued",
            testid: "message",
            dataset: { author: "driver", queued: "true" },
          },
          entry.json.text,
          h("span", { class: "meta" }, t("chat.queued")),
        ),
      ),
    );
    if (messages.length === 0 && queued.length === 0) {
      list.append(h("li", { class: "muted" }, t("chat.empty")));
    }
    if (atBottom) window.scrollTo(0, document.body.scrollHeight);
  }

  async function poll() {
    if (!alive) return;
    await app.pollChat(route.id);
    if (!alive) return;
    timer = setTimeout(poll, POLL_MS);
  }

  async function send(event) {
    event.preventDefault();
    const value = text.value.trim();
    if (!value) return;
    text.value = "";
    await app.sendMessage(route, stop?.id ?? null, value);
  }

  const node = h(
    "section",
    { testid: "chat" },
    h(
      "h2",
      {},
      stop
        ? t("chat.about", { sequence: stop.sequence, customer: stop.service.customer.name })
        : t("chat.title"),
    ),
    list,
    h(
      "form",
      { on: { submit: send }, novalidate: true },
      h("label", { for: "chat-text" }, t("chat.write")),
      text,
      h("button", { type: "submit", class: "primary", testid: "chat-send" }, t("chat.send")),
    ),
  );
  app.chatOpened(route.id);
  draw();
  poll();
  return {
    title: t("chat.title"),
    back: stop ? `#/stop/${stop.id}` : `#/route/${route.id}`,
    node,
    live: false,
    update(what) {
      if (what !== "status") draw();
    },
    destroy() {
      alive = false;
      clearTimeout(timer);
      app.chatOpened(null);
    },
  };
}
