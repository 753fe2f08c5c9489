// The routes pages: the builder (selection kept across filters, markers that select, the map
// area filter, the driver's usual vehicle), the route's plan (drag and drop, map with numbered
// stops), confirmations, and the sheet's print button. Without Leaflet or SortableJS (blocked,
// failed to load) the lists, forms and arrow buttons still do everything.
(() => {
  "use strict";

  const BRAZIL = { center: [-14.2, -51.9], zoom: 4 };
  const hasLeaflet = () => typeof window.L !== "undefined";

  function numberFrom(value) {
    const parsed = Number.parseFloat(value);
    return Number.isFinite(parsed) ? parsed : 0;
  }

  function formatNumber(value, digits) {
    try {
      return new Intl.NumberFormat(document.documentElement.lang || undefined, {
        maximumFractionDigits: digits,
      }).format(value);
    } catch {
      return String(Math.round(value * 10 ** digits) / 10 ** digits);
    }
  }

  function baseMap(element) {
    if (!element || !hasLeaflet()) return null;
    try {
      element.classList.add("has-map");
      element.replaceChildren();
      const map = window.L.map(element, { scrollWheelZoom: false });
      window.L.tileLayer(element.dataset.tiles, {
        maxZoom: 19,
        attribution: element.dataset.attribution,
      }).addTo(map);
      return map;
    } catch (error) {
      console.error("map", error);
      return null;
    }
  }

  // A round pin; `text` is a number or a symbol we choose, never user input.
  function pin(className, text) {
    const size = className.includes("stop-pin") || className.includes("start-pin") ? 26 : 18;
    return window.L.divIcon({
      className: `route-pin ${className}`,
      html: `<span>${text}</span>`,
      iconSize: [size, size],
      iconAnchor: [size / 2, size / 2],
      popupAnchor: [0, -size / 2],
    });
  }

  function fit(map, points) {
    if (points.length === 1) map.setView(points[0], 15);
    else if (points.length) map.fitBounds(points, { padding: [24, 24], maxZoom: 16 });
    else map.setView(BRAZIL.center, BRAZIL.zoom);
  }

  // The builder ----------------------------------------------------------------------------------

  const builder = {
    root: null,
    map: null,
    layer: null,
    area: null,
    mapHasView: false,
    markers: new Map(), // service id -> Leaflet marker
    selection: new Map(), // service id -> {kg, m3}, kept while the list is filtered again
  };

  const candidateRows = () => Array.from(document.querySelectorAll("#candidates [data-candidate]"));
  const rowBox = (row) => row.querySelector('input[name="services"]');

  function initBuilder() {
    builder.root = document.querySelector("[data-route-builder]");
    if (!builder.root) return;
    document.querySelectorAll("#carried-selection input").forEach((input) => {
      builder.selection.set(input.value, { kg: numberFrom(input.dataset.kg), m3: numberFrom(input.dataset.m3) });
    });
    builder.map = baseMap(document.getElementById("builder-map"));
    if (builder.map) builder.layer = window.L.layerGroup().addTo(builder.map);
    else document.querySelectorAll("[data-area-apply]").forEach((button) => { button.hidden = true; });
    syncCandidates();
    refreshCapacity();
  }

  // After the list is drawn or filtered again: tick what is selected, draw its markers.
  function syncCandidates() {
    candidateRows().forEach((row) => {
      const box = rowBox(row);
      if (!box) return;
      if (builder.selection.has(box.value)) box.checked = true;
      else if (box.checked) builder.selection.set(box.value, { kg: numberFrom(row.dataset.kg), m3: numberFrom(row.dataset.m3) });
    });
    drawCandidates();
    refreshSelection();
  }

  function drawCandidates() {
    if (!builder.map) return;
    try {
      builder.layer.clearLayers();
      builder.markers.clear();
      const located = candidateRows()
        .map((row) => ({ row, lat: Number.parseFloat(row.dataset.lat), lng: Number.parseFloat(row.dataset.lng) }))
        .filter(({ lat, lng }) => Number.isFinite(lat) && Number.isFinite(lng));
      // The map needs its view before markers get their elements.
      drawArea(located.map(({ lat, lng }) => [lat, lng]));
      located.forEach(({ row, lat, lng }) => {
        const id = row.dataset.candidate;
        const marker = window.L.marker([lat, lng], {
          icon: pin("candidate-pin", ""),
          title: [row.dataset.label, row.dataset.address].filter(Boolean).join(" · "),
          keyboard: true,
          riseOnHover: true,
        });
        marker.on("click", () => {
          const box = rowBox(row);
          if (!box) return;
          box.checked = !box.checked;
          box.dispatchEvent(new Event("change", { bubbles: true }));
        });
        marker.addTo(builder.layer);
        const element = marker.getElement();
        if (element) element.dataset.service = id;
        builder.markers.set(id, marker);
      });
    } catch (error) {
      console.error("map", error);
    }
  }

  // The chosen map area: drawn, and the map stays on it; without one the map shows every marker.
  function drawArea(points) {
    const section = document.getElementById("candidates");
    const text = section ? section.dataset.area : "";
    if (builder.area) {
      builder.area.remove();
      builder.area = null;
    }
    const clear = document.querySelector("[data-area-clear]");
    if (clear) clear.hidden = !text;
    const bounds = text ? text.split(",").map(Number.parseFloat) : [];
    if (bounds.length === 4 && bounds.every(Number.isFinite)) {
      const [south, west, north, east] = bounds;
      builder.area = window.L.rectangle(
        [[south, west], [north, east]],
        { color: "#0d6efd", weight: 1, dashArray: "6 4", fill: false, interactive: false, className: "area-rectangle" },
      ).addTo(builder.map);
      if (!builder.mapHasView) builder.map.fitBounds(builder.area.getBounds());
    } else {
      fit(builder.map, points);
    }
    builder.mapHasView = true;
  }

  function refreshSelection() {
    if (!builder.root) return;
    const visible = new Set();
    candidateRows().forEach((row) => {
      const box = rowBox(row);
      if (!box) return;
      visible.add(box.value);
      row.classList.toggle("is-selected", box.checked);
      const element = builder.markers.get(box.value)?.getElement();
      if (element) element.classList.toggle("is-selected", box.checked);
    });
    // Selected services the current filters hide are still posted with the route.
    const carried = document.getElementById("carried-selection");
    if (carried) {
      const inputs = [];
      builder.selection.forEach((load, id) => {
        if (visible.has(id)) return;
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = "services";
        input.value = id;
        input.dataset.kg = String(load.kg);
        input.dataset.m3 = String(load.m3);
        inputs.push(input);
      });
      carried.replaceChildren(...inputs);
      const note = document.querySelector("[data-carried-note]");
      if (note) note.hidden = inputs.length === 0;
    }
    let kg = 0;
    let m3 = 0;
    builder.selection.forEach((load) => {
      kg += load.kg;
      m3 += load.m3;
    });
    const set = (selector, text) => {
      document.querySelectorAll(selector).forEach((element) => {
        element.textContent = text;
      });
    };
    set("[data-selected-count]", String(builder.selection.size));
    set("[data-selected-kg]", formatNumber(kg, 1));
    set("[data-selected-m3]", formatNumber(m3, 2));
    const all = document.querySelector("#candidates [data-select-all]");
    if (all) {
      const boxes = candidateRows().map(rowBox).filter(Boolean);
      const checked = boxes.filter((box) => box.checked).length;
      all.checked = boxes.length > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
    refreshCapacity(kg, m3);
  }

  function refreshCapacity(kg, m3) {
    const form = document.querySelector("[data-route-form]");
    if (!form) return;
    if (kg === undefined) {
      kg = 0;
      m3 = 0;
      builder.selection.forEach((load) => {
        kg += load.kg;
        m3 += load.m3;
      });
    }
    const option = form.querySelector('select[name="vehicle"]')?.selectedOptions[0];
    const capacityKg = option ? Number.parseFloat(option.dataset.capacityKg) : Number.NaN;
    const capacityM3 = option ? Number.parseFloat(option.dataset.capacityM3) : Number.NaN;
    const parts = [];
    if (Number.isFinite(capacityKg)) parts.push(`${formatNumber(capacityKg, 1)} kg`);
    if (Number.isFinite(capacityM3)) parts.push(`${formatNumber(capacityM3, 2)} m³`);
    const line = form.querySelector("[data-capacity]");
    if (line) {
      line.hidden = parts.length === 0;
      const text = line.querySelector("[data-capacity-text]");
      if (text) text.textContent = parts.join(" · ");
    }
    const over = form.querySelector("[data-over-capacity]");
    if (over) {
      over.hidden = !((Number.isFinite(capacityKg) && kg > capacityKg) || (Number.isFinite(capacityM3) && m3 > capacityM3));
    }
  }

  function applyArea(clear) {
    const form = document.getElementById("candidate-filters");
    const input = form ? form.querySelector('input[name="area"]') : null;
    if (!input) return;
    if (clear) {
      input.value = "";
    } else {
      if (!builder.map) return;
      const bounds = builder.map.getBounds();
      const clamp = (value, limit) => Math.max(-limit, Math.min(limit, value));
      input.value = [
        clamp(bounds.getSouth(), 90),
        clamp(bounds.getWest(), 180),
        clamp(bounds.getNorth(), 90),
        clamp(bounds.getEast(), 180),
      ].map((value) => value.toFixed(6)).join(",");
    }
    form.requestSubmit();
  }

  function chooseDriver(select) {
    const form = select.form;
    const option = select.selectedOptions[0];
    if (!form || !option) return;
    const vehicle = form.querySelector('select[name="vehicle"]');
    const wanted = option.dataset.vehicle;
    if (vehicle && wanted && vehicle.querySelector(`option[value="${CSS.escape(wanted)}"]`)) {
      vehicle.value = wanted;
    }
    const branch = form.querySelector('select[name="branch"]');
    if (branch && option.value) {
      const own = option.dataset.branch || "";
      branch.value = own && branch.querySelector(`option[value="${CSS.escape(own)}"]`) ? own : "";
    }
    refreshCapacity();
  }

  // The route's plan -------------------------------------------------------------------------------

  const routeMap = { map: null, layer: null, drawn: "", fitted: false, markers: new Map() };

  function initRouteMap() {
    const element = document.getElementById("route-map");
    if (!element) return;
    if (!routeMap.map) {
      routeMap.map = baseMap(element);
      if (!routeMap.map) return;
      routeMap.layer = window.L.layerGroup().addTo(routeMap.map);
    }
    drawRoute();
  }

  function drawRoute() {
    const source = document.getElementById("route-map-data");
    if (!routeMap.map || !source || source.textContent === routeMap.drawn) return;
    let data;
    try {
      data = JSON.parse(source.textContent);
    } catch {
      return;
    }
    routeMap.drawn = source.textContent;
    try {
      routeMap.layer.clearLayers();
      routeMap.markers.clear();
      const stops = data.stops || [];
      if (!routeMap.fitted) {
        // The map needs its view before markers get their elements.
        fit(routeMap.map, [...(data.start ? [data.start] : []), ...stops.map((stop) => [stop.lat, stop.lng])]);
        routeMap.fitted = true;
      }
      if (data.path && data.path.length > 1) {
        window.L.polyline(data.path, { color: "#0d6efd", weight: 3, opacity: 0.75 }).addTo(routeMap.layer);
      }
      if (data.start) {
        window.L.marker(data.start, { icon: pin("start-pin", "⌂"), title: data.startLabel, zIndexOffset: 1000 }).addTo(routeMap.layer);
      }
      // Where the driver went (positions, in phone-time order) and where they are now.
      if (data.track && data.track.length > 1) {
        window.L.polyline(data.track, { color: "#198754", weight: 4, opacity: 0.8 }).addTo(routeMap.layer);
      }
      if (data.driver) {
        window.L.marker([data.driver.lat, data.driver.lng], {
          icon: pin("driver-pin", "●"),
          title: `${data.driver.label} · ${data.driver.at}`,
          zIndexOffset: 2000,
        }).addTo(routeMap.layer);
      }
      stops.forEach((stop) => {
        const classes = `stop-pin stop-status-${stop.status}${stop.warning ? " has-warning" : ""}`;
        const title = `${stop.sequence}. ${stop.label}${stop.arrival ? ` · ${stop.arrival}` : ""}`;
        const marker = window.L.marker([stop.lat, stop.lng], { icon: pin(classes, String(Number(stop.sequence))), title, riseOnHover: true });
        const popup = document.createElement("div");
        const name = document.createElement("strong");
        name.textContent = title;
        const address = document.createElement("div");
        address.className = "small";
        address.textContent = stop.address || "";
        popup.append(name, address);
        marker.bindPopup(popup);
        marker.on("click", () => markRow(String(stop.id)));
        marker.addTo(routeMap.layer);
        const element = marker.getElement();
        if (element) element.dataset.stop = String(stop.id);
        routeMap.markers.set(String(stop.id), marker);
      });
    } catch (error) {
      console.error("map", error);
    }
  }

  function markRow(id) {
    document.querySelectorAll(".stop-row.is-active").forEach((row) => row.classList.remove("is-active"));
    const row = document.querySelector(`.stop-row[data-stop="${CSS.escape(id)}"]`);
    if (row) row.classList.add("is-active");
  }

  function markPin(id, on) {
    const element = routeMap.markers.get(id)?.getElement();
    if (element) element.classList.toggle("is-active", on);
  }

  function renumber(list) {
    list.querySelectorAll(".stop-row [data-sequence]").forEach((badge, index) => {
      badge.textContent = String(index + 1);
    });
  }

  function initSortable() {
    const list = document.querySelector("#stops[data-editable]");
    if (!list || list.dataset.sortable || typeof window.Sortable === "undefined") return;
    list.dataset.sortable = "1";
    try {
      window.Sortable.create(list, {
        handle: ".drag-handle",
        animation: 150,
        // Mouse and touch events rather than HTML5 drag and drop: the same on every browser.
        forceFallback: true,
        fallbackTolerance: 3,
        ghostClass: "stop-ghost",
        chosenClass: "stop-chosen",
        onEnd(event) {
          if (event.oldIndex === event.newIndex) return;
          renumber(list);
          const form = list.closest("form");
          if (form) form.requestSubmit();
        },
      });
    } catch (error) {
      console.error("sortable", error);
    }
  }

  // Keep the keyboard where it was after an arrow button re-draws the list.
  let focusAfterSwap = null;
  document.addEventListener("htmx:beforeRequest", () => {
    const active = document.activeElement;
    focusAfterSwap = active && active.closest && active.closest("#route-plan") && (active.name === "up" || active.name === "down")
      ? { name: active.name, value: active.value }
      : null;
  });

  function restoreFocus() {
    if (!focusAfterSwap) return;
    const { name, value } = focusAfterSwap;
    focusAfterSwap = null;
    const other = name === "up" ? "down" : "up";
    const button = [name, other]
      .map((which) => document.querySelector(`#route-plan button[name="${which}"][value="${CSS.escape(value)}"]`))
      .find((candidate) => candidate && !candidate.disabled);
    if (button) button.focus();
  }

  // Everywhere -------------------------------------------------------------------------------------

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.matches('#candidates input[name="services"]')) {
      const row = target.closest("[data-candidate]");
      if (target.checked) builder.selection.set(target.value, { kg: numberFrom(row?.dataset.kg), m3: numberFrom(row?.dataset.m3) });
      else builder.selection.delete(target.value);
      refreshSelection();
    } else if (target.matches("#candidates [data-select-all]")) {
      candidateRows().forEach((row) => {
        const box = rowBox(row);
        if (!box) return;
        box.checked = target.checked;
        if (box.checked) builder.selection.set(box.value, { kg: numberFrom(row.dataset.kg), m3: numberFrom(row.dataset.m3) });
        else builder.selection.delete(box.value);
      });
      refreshSelection();
    } else if (target.matches('[data-route-form] select[name="driver"]')) {
      chooseDriver(target);
    } else if (target.matches('[data-route-form] select[name="vehicle"]')) {
      refreshCapacity();
    }
  });

  document.addEventListener("click", (event) => {
    const target = event.target.closest("[data-area-apply], [data-area-clear], [data-clear-selection], [data-print]");
    if (!target) return;
    if (target.matches("[data-area-apply]")) applyArea(false);
    else if (target.matches("[data-area-clear]")) applyArea(true);
    else if (target.matches("[data-print]")) window.print();
    else {
      builder.selection.clear();
      candidateRows().forEach((row) => {
        const box = rowBox(row);
        if (box) box.checked = false;
      });
      refreshSelection();
    }
  });

  document.addEventListener("submit", (event) => {
    const message = event.target.dataset ? event.target.dataset.confirm : "";
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("mouseover", (event) => {
    const row = event.target.closest ? event.target.closest(".stop-row") : null;
    if (row) markPin(row.dataset.stop, true);
  });
  document.addEventListener("mouseout", (event) => {
    const row = event.target.closest ? event.target.closest(".stop-row") : null;
    if (row && !row.contains(event.relatedTarget)) markPin(row.dataset.stop, false);
  });

  document.addEventListener("DOMContentLoaded", () => {
    initBuilder();
    initRouteMap();
    initSortable();
  });

  document.addEventListener("htmx:afterSettle", (event) => {
    const target = event.target;
    if (builder.root && target.closest && (target.id === "candidates" || target.closest("#candidates") || target.querySelector?.("#candidates"))) {
      syncCandidates();
    }
    if (document.getElementById("route-plan")) {
      drawRoute();
      initSortable();
      restoreFocus();
    }
  });
})();
