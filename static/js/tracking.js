// The live tracking page: drivers where they last were, stops coloured by status, the path of
// the selected route, and the list of routes, all kept up to date by polling the data endpoint.
// Each answer carries only what changed since the version the page has (or everything, marked
// "full"); the page applies it in place. Without Leaflet (blocked, failed to load) the list
// still updates.
(() => {
  "use strict";

  const BRAZIL = { center: [-14.2, -51.9], zoom: 4 };
  const MAX_BACKOFF_MS = 60_000;
  const hasLeaflet = () => typeof window.L !== "undefined";

  const page = {
    root: null,
    config: null,
    labels: {},
    list: null,
    map: null,
    stopLayer: null,
    driverLayer: null,
    trackLine: null,
    routes: new Map(), // id -> route item
    stops: new Map(), // id -> stop item
    drivers: new Map(), // id -> driver item
    stopMarkers: new Map(),
    driverMarkers: new Map(),
    version: "",
    offsetMs: 0, // the server's clock minus the browser's
    selected: null, // the route whose path is drawn
    trackAfter: null,
    timer: null,
    busy: false,
    failures: 0,
    stopped: false,
    refreshes: 0,
  };

  // Words and numbers --------------------------------------------------------------------------

  function format(template, values) {
    return String(template || "").replace(/%\((\w+)\)s/g, (_match, name) => String(values[name] ?? ""));
  }

  function language() {
    return document.documentElement.lang || undefined;
  }

  function km(metres) {
    try {
      return new Intl.NumberFormat(language(), { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format((metres || 0) / 1000);
    } catch {
      return ((metres || 0) / 1000).toFixed(1);
    }
  }

  function hoursMinutes(seconds) {
    const minutes = Math.round((seconds || 0) / 60);
    return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}`;
  }

  function clock(epochSeconds, withSeconds) {
    const options = { hour: "2-digit", minute: "2-digit" };
    if (withSeconds) options.second = "2-digit";
    try {
      return new Date(epochSeconds * 1000).toLocaleTimeString(language(), options);
    } catch {
      return new Date(epochSeconds * 1000).toTimeString().slice(0, withSeconds ? 8 : 5);
    }
  }

  const serverNow = () => (Date.now() + page.offsetMs) / 1000;

  // The map --------------------------------------------------------------------------------------

  function initMap() {
    const element = document.getElementById("tracking-map");
    if (!element || !hasLeaflet()) return;
    try {
      element.classList.add("has-map");
      element.replaceChildren();
      page.map = window.L.map(element, { scrollWheelZoom: false });
      window.L.tileLayer(element.dataset.tiles, { maxZoom: 19, attribution: element.dataset.attribution }).addTo(page.map);
      page.map.setView(BRAZIL.center, BRAZIL.zoom);
      page.stopLayer = window.L.layerGroup().addTo(page.map);
      page.driverLayer = window.L.layerGroup().addTo(page.map);
    } catch (error) {
      console.error("map", error);
      page.map = null;
    }
  }

  function located(item) {
    return item && Number.isFinite(item.lat) && Number.isFinite(item.lng);
  }

  function fit(points) {
    if (!page.map) return;
    if (points.length === 1) page.map.setView(points[0], 15);
    else if (points.length) page.map.fitBounds(points, { padding: [24, 24], maxZoom: 16 });
  }

  function fitAll() {
    const points = [];
    page.stops.forEach((stop) => { if (located(stop)) points.push([stop.lat, stop.lng]); });
    page.drivers.forEach((driver) => { if (located(driver)) points.push([driver.lat, driver.lng]); });
    fit(points);
  }

  function stopTitle(stop) {
    const labels = page.labels;
    const parts = [`${stop.seq}. ${stop.label || ""}`, labels.stopStatus?.[stop.status] || stop.status];
    if (stop.eta) parts.push(format(labels.eta, { time: stop.eta }));
    if (stop.due) parts.push(format(labels.due, { time: stop.due }));
    if (stop.compliance) parts.push(labels.compliance?.[stop.compliance] || stop.compliance);
    return parts.join(" · ");
  }

  function styleStop(marker, stop) {
    const element = marker.getElement && marker.getElement();
    if (!element) return;
    const classes = ["leaflet-interactive", "stop-dot", `stop-status-${stop.status}`];
    if (stop.compliance && stop.compliance !== "on_time") classes.push(`is-${stop.compliance.replace("_", "-")}`);
    if (page.selected !== null && stop.route !== page.selected) classes.push("is-dimmed");
    element.setAttribute("class", classes.join(" "));
    element.dataset.stop = String(stop.id);
    element.dataset.route = String(stop.route);
    element.dataset.status = stop.status;
  }

  function drawStop(stop) {
    if (!page.map) return;
    let marker = page.stopMarkers.get(stop.id);
    if (!located(stop)) {
      if (marker) removeStopMarker(stop.id);
      return;
    }
    try {
      if (!marker) {
        marker = window.L.circleMarker([stop.lat, stop.lng], { radius: 7, weight: 2, fillOpacity: 0.9 });
        marker.bindTooltip(document.createElement("span"));
        marker.on("click", () => select(stop.route, { fit: false }));
        marker.addTo(page.stopLayer);
        page.stopMarkers.set(stop.id, marker);
      } else {
        marker.setLatLng([stop.lat, stop.lng]);
      }
      const tip = document.createElement("span");
      tip.textContent = stopTitle(stop);
      marker.setTooltipContent(tip);
      styleStop(marker, stop);
    } catch (error) {
      console.error("map", error);
    }
  }

  function removeStopMarker(id) {
    const marker = page.stopMarkers.get(id);
    if (marker) marker.remove();
    page.stopMarkers.delete(id);
  }

  function driverTitle(driver) {
    const when = driver.at ? format(page.labels.stale, { time: clock(driver.at, false) }) : page.labels.noPosition;
    return `${driver.name} · ${when}`;
  }

  function driverIcon(driver) {
    const html = document.createElement("span");
    html.className = "driver-marker-body";
    const dot = document.createElement("span");
    dot.className = "driver-dot";
    const name = document.createElement("span");
    name.className = "driver-name";
    name.textContent = driver.name; // user input: text, never HTML
    html.append(dot, name);
    return window.L.divIcon({ className: "driver-marker", html, iconSize: [16, 16], iconAnchor: [8, 8] });
  }

  function drawDriver(driver) {
    if (!page.map) return;
    let marker = page.driverMarkers.get(driver.id);
    if (!located(driver)) {
      if (marker) removeDriverMarker(driver.id);
      return;
    }
    try {
      if (!marker) {
        marker = window.L.marker([driver.lat, driver.lng], { icon: driverIcon(driver), zIndexOffset: 2000, keyboard: true });
        marker.on("click", () => {
          const item = page.drivers.get(driver.id);
          if (item) select(item.route, { fit: false });
        });
        marker.addTo(page.driverLayer);
        page.driverMarkers.set(driver.id, marker);
      } else {
        marker.setLatLng([driver.lat, driver.lng]);
        const name = marker.getElement()?.querySelector(".driver-name");
        if (name) name.textContent = driver.name;
      }
      const element = marker.getElement();
      if (element) {
        element.dataset.driver = String(driver.id);
        element.dataset.lat = String(driver.lat);
        element.dataset.lng = String(driver.lng);
        element.classList.toggle("is-stale", Boolean(driver.stale));
        element.classList.toggle("is-offline", !driver.online);
        element.title = driverTitle(driver);
      }
    } catch (error) {
      console.error("map", error);
    }
  }

  function removeDriverMarker(id) {
    const marker = page.driverMarkers.get(id);
    if (marker) marker.remove();
    page.driverMarkers.delete(id);
  }

  function drawTrack(track) {
    if (!page.map || track.route !== page.selected) return;
    try {
      const points = track.points || [];
      if (track.reset || !page.trackLine) {
        if (page.trackLine) page.trackLine.remove();
        page.trackLine = window.L.polyline(points, { color: "#198754", weight: 4, opacity: 0.8, className: "track-line" }).addTo(page.map);
      } else {
        points.forEach((point) => page.trackLine.addLatLng(point));
      }
      const element = page.trackLine.getElement && page.trackLine.getElement();
      if (element) element.dataset.points = String(page.trackLine.getLatLngs().length);
    } catch (error) {
      console.error("map", error);
    }
  }

  // The list -------------------------------------------------------------------------------------

  function rowOf(id) {
    return page.list.querySelector(`[data-route="${CSS.escape(String(id))}"]`);
  }

  function field(row, name) {
    return row.querySelector(`[data-field="${name}"]`);
  }

  function setText(row, name, text) {
    const element = field(row, name);
    if (element && element.textContent !== text) element.textContent = text;
    return element;
  }

  function newRow(id) {
    const template = document.getElementById("tracking-row-template");
    const row = template.content.firstElementChild.cloneNode(true);
    row.dataset.route = String(id);
    page.list.append(row);
    return row;
  }

  function fillRow(row, route) {
    const labels = page.labels;
    const driver = page.drivers.get(route.driver) || {};
    const name = setText(row, "name", route.name);
    if (name && name.tagName === "A" && page.config.detailUrl) {
      name.href = page.config.detailUrl.replace(/0\/$/, `${route.id}/`);
    }
    setText(row, "vehicle", route.vehicle || "");
    const status = setText(row, "status", labels.routeStatus?.[route.status] || route.status);
    if (status) status.className = `badge route-status route-status-${route.status}`;
    setText(row, "stops", format(labels.stops, route));
    const count = route.late || route.at_risk;
    const compliance = setText(
      row,
      "compliance",
      route.compliance ? `${labels.compliance?.[route.compliance] || route.compliance}${count ? ` (${count})` : ""}` : labels.noDeadline,
    );
    if (compliance) compliance.className = `badge compliance compliance-${route.compliance || "none"}`;
    const online = setText(row, "online", driver.online ? labels.online : labels.offline);
    if (online) online.className = `badge ${driver.online ? "text-bg-success" : "text-bg-secondary"}`;
    setText(row, "battery", Number.isFinite(driver.battery) ? `${driver.battery}%` : "–");
    fillTimes(row, route);
    setText(row, "planned", hoursMinutes(route.planned_s));
    setText(row, "travelled", km(route.travelled_m));
    setText(row, "planned-distance", km(route.planned_m));
    row.dataset.status = route.status;
    row.dataset.compliance = route.compliance || "";
    row.classList.toggle("is-selected", route.id === page.selected);
  }

  function fillTimes(row, route) {
    let text = "–";
    let over = false;
    if (Number.isFinite(route.started)) {
      const elapsed = (Number.isFinite(route.finished) ? route.finished : serverNow()) - route.started;
      text = hoursMinutes(Math.max(elapsed, 0));
      over = elapsed > route.planned_s;
    }
    const element = setText(row, "elapsed", text);
    if (element) element.classList.toggle("text-danger", over);
  }

  function refreshEmpty() {
    const empty = document.querySelector("[data-tracking-empty]");
    if (empty) empty.hidden = page.routes.size > 0;
  }

  // Applying an answer -----------------------------------------------------------------------------

  // Items come as lists of values named once in `columns`.
  function itemsOf(payload, kind) {
    const names = (payload.columns || {})[kind] || [];
    return (payload[kind] || []).map((values) => {
      const item = {};
      names.forEach((name, index) => { item[name] = values[index]; });
      return item;
    });
  }

  function apply(answer) {
    const payload = { ...answer, routes: itemsOf(answer, "routes"), stops: itemsOf(answer, "stops"), drivers: itemsOf(answer, "drivers") };
    if (Number.isFinite(payload.now)) page.offsetMs = payload.now * 1000 - Date.now();
    const removed = payload.removed || {};
    if (payload.full) {
      // Everything was sent: what is not in it is gone.
      const keep = (items) => new Set(items.map((item) => item.id));
      const routes = keep(payload.routes);
      const stops = keep(payload.stops);
      const drivers = keep(payload.drivers);
      removed.routes = [...page.routes.keys()].filter((id) => !routes.has(id));
      removed.stops = [...page.stops.keys()].filter((id) => !stops.has(id));
      removed.drivers = [...page.drivers.keys()].filter((id) => !drivers.has(id));
    }
    (removed.stops || []).forEach((id) => {
      page.stops.delete(id);
      removeStopMarker(id);
    });
    (removed.drivers || []).forEach((id) => {
      page.drivers.delete(id);
      removeDriverMarker(id);
    });
    (removed.routes || []).forEach((id) => {
      page.routes.delete(id);
      rowOf(id)?.remove();
      if (page.selected === id) select(null);
    });

    const changedDrivers = new Set();
    payload.drivers.forEach((driver) => {
      page.drivers.set(driver.id, driver);
      changedDrivers.add(driver.id);
      drawDriver(driver);
    });
    payload.stops.forEach((stop) => {
      page.stops.set(stop.id, stop);
      drawStop(stop);
    });
    const changedRoutes = new Set();
    payload.routes.forEach((route) => {
      page.routes.set(route.id, route);
      changedRoutes.add(route.id);
    });
    page.routes.forEach((route, id) => {
      const row = rowOf(id) || newRow(id);
      if (changedRoutes.has(id) || changedDrivers.has(route.driver) || !row.dataset.filled) {
        fillRow(row, route);
        row.dataset.filled = "1";
      } else {
        fillTimes(row, route);
      }
    });
    if (payload.track) drawTrack(payload.track);
    if (payload.track && payload.track.route === page.selected) page.trackAfter = payload.track.after;
    page.version = payload.version || page.version;
    page.refreshes += 1;
    page.root.dataset.version = page.version;
    page.root.dataset.refreshes = String(page.refreshes);
    refreshEmpty();
  }

  // Selecting a route ----------------------------------------------------------------------------

  function select(id, { fit: fitTo = true } = {}) {
    const next = id === page.selected ? null : id;
    page.selected = next;
    page.trackAfter = null;
    if (page.trackLine) {
      page.trackLine.remove();
      page.trackLine = null;
    }
    page.list.querySelectorAll(".tracking-route").forEach((row) => {
      const selected = next !== null && row.dataset.route === String(next);
      row.classList.toggle("is-selected", selected);
      if (selected) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    });
    page.stopMarkers.forEach((marker, stopId) => {
      const stop = page.stops.get(stopId);
      if (stop) styleStop(marker, stop);
    });
    if (next !== null && fitTo && page.map) {
      const route = page.routes.get(next);
      const points = [];
      page.stops.forEach((stop) => { if (stop.route === next && located(stop)) points.push([stop.lat, stop.lng]); });
      const driver = route && page.drivers.get(route.driver);
      if (located(driver) && driver.route === next) points.push([driver.lat, driver.lng]);
      fit(points);
    }
    if (next !== null) refreshSoon(0);
  }

  // Polling ----------------------------------------------------------------------------------------

  function status(text, problem) {
    const element = document.querySelector("[data-tracking-status]");
    if (!element) return;
    element.textContent = text;
    element.classList.toggle("text-danger", Boolean(problem));
  }

  function refreshSoon(delay) {
    if (page.stopped) return;
    clearTimeout(page.timer);
    page.timer = setTimeout(refresh, delay ?? page.config.pollMs);
  }

  function dataUrl() {
    const url = new URL(page.config.dataUrl, window.location.href);
    url.searchParams.set("since", page.version);
    if (page.selected !== null) {
      url.searchParams.set("route", String(page.selected));
      if (page.trackAfter !== null && page.trackAfter !== undefined) url.searchParams.set("after", String(page.trackAfter));
    }
    return url;
  }

  async function refresh() {
    if (page.stopped) return;
    if (document.hidden) return; // resumed by visibilitychange
    if (page.busy) {
      refreshSoon(500);
      return;
    }
    page.busy = true;
    const asked = page.selected;
    try {
      const response = await fetch(dataUrl(), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        redirect: "manual",
        cache: "no-store",
      });
      if (response.type === "opaqueredirect" || response.status === 404 || response.status === 403) {
        // Logged out, or no longer allowed: polling again would not help.
        page.stopped = true;
        status(page.labels.stopped, true);
        return;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const payload = await response.json();
      // A route selected while the request was out: its path comes with the next one.
      if (asked !== page.selected) delete payload.track;
      apply(payload);
      page.failures = 0;
      status(format(page.labels.updated, { time: clock(serverNow(), true) }), false);
    } catch (error) {
      console.error("tracking", error);
      page.failures += 1;
      status(page.labels.retrying, true);
    } finally {
      page.busy = false;
      const backoff = Math.min(page.config.pollMs * 2 ** Math.min(page.failures, 6), MAX_BACKOFF_MS);
      refreshSoon(page.failures ? backoff : (asked !== page.selected ? 0 : undefined));
    }
  }

  // Start ------------------------------------------------------------------------------------------

  function readJson(id) {
    const element = document.getElementById(id);
    if (!element) return null;
    try {
      return JSON.parse(element.textContent);
    } catch {
      return null;
    }
  }

  function init() {
    page.root = document.querySelector("[data-tracking]");
    page.list = document.querySelector("[data-tracking-list]");
    page.config = readJson("tracking-config");
    const data = readJson("tracking-data");
    if (!page.root || !page.list || !page.config || !data) return;
    page.labels = page.config.labels || {};
    initMap();
    apply(data);
    if (page.map) {
      if (page.stops.size || page.drivers.size) fitAll();
      page.map.whenReady(() => page.map.invalidateSize());
    }
    page.root.dataset.ready = "1";
    refreshSoon();
  }

  document.addEventListener("click", (event) => {
    if (!page.list) return;
    const row = event.target.closest(".tracking-route");
    if (!row || event.target.closest("a")) return; // the driver's name opens the route
    select(Number(row.dataset.route));
  });

  document.addEventListener("keydown", (event) => {
    if (!page.list || (event.key !== "Enter" && event.key !== " ")) return;
    const row = event.target.closest && event.target.closest(".tracking-route");
    if (!row || event.target !== row) return;
    event.preventDefault();
    select(Number(row.dataset.route));
  });

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && page.config) refreshSoon(0);
  });

  document.addEventListener("DOMContentLoaded", init);
})();
