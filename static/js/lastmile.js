// The Last Mile page while the service is under way: the map of the driver heading here (present,
// with Leaflet, only while this stop is in progress) and what each refresh of the live part
// (htmx, #lm-live) changes. A refresh whose state differs from the page's reloads the page.
(() => {
  "use strict";

  let map = null;
  let driverMarker = null;
  let pathLine = null;
  let destination = null;

  function coordinate(value) {
    const number = Number.parseFloat(value);
    return Number.isFinite(number) ? number : null;
  }

  function pointOf(element, prefix) {
    if (!element) return null;
    const lat = coordinate(element.dataset[`${prefix}Lat`]);
    const lng = coordinate(element.dataset[`${prefix}Lng`]);
    return lat === null || lng === null ? null : [lat, lng];
  }

  function fit(driver) {
    const points = [driver, destination].filter(Boolean);
    if (points.length === 1) map.setView(points[0], 15);
    else if (points.length === 2) map.fitBounds(points, { padding: [32, 32], maxZoom: 16 });
  }

  function moveDriver(driver) {
    if (!map) return;
    const element = map.getContainer();
    const L = window.L;
    if (!driver) {
      delete element.dataset.driverPosition;
      return;
    }
    if (driverMarker) {
      driverMarker.setLatLng(driver);
    } else {
      driverMarker = L.circleMarker(driver, {
        radius: 10, color: "#fff", weight: 3, fillColor: "#0550ae", fillOpacity: 1,
      }).addTo(map);
      driverMarker.bindTooltip(element.dataset.driverLabel || "");
    }
    if (destination) {
      if (pathLine) pathLine.setLatLngs([driver, destination]);
      else {
        pathLine = L.polyline([driver, destination], {
          color: "#0550ae", weight: 3, dashArray: "6 8", interactive: false,
        }).addTo(map);
      }
    }
    // Re-framed only when the driver leaves the view: a customer who zoomed keeps the zoom.
    if (!element.dataset.driverPosition || !map.getBounds().contains(driver)) fit(driver);
    element.dataset.driverPosition = `${driver[0]},${driver[1]}`;
  }

  function initMap() {
    const element = document.getElementById("lm-map");
    if (!element || map || typeof window.L === "undefined") return;
    const L = window.L;
    try {
      destination = pointOf(element, "dest");
      element.replaceChildren();
      map = L.map(element, { scrollWheelZoom: false });
      L.tileLayer(element.dataset.tiles, {
        maxZoom: 19,
        attribution: element.dataset.attribution,
        // The page's address holds the token: the tile server is told only which site asks
        // (as the page's own Referrer-Policy says; repeated here for the tile images).
        referrerPolicy: "strict-origin",
      }).addTo(map);
      if (destination) {
        L.circleMarker(destination, {
          radius: 9, color: "#fff", weight: 3, fillColor: "#1a7f37", fillOpacity: 1,
        }).addTo(map).bindTooltip(element.dataset.destLabel || "");
        map.setView(destination, 15);
      }
      element.dataset.ready = "1";
      moveDriver(pointOf(document.getElementById("lm-live"), "driver"));
    } catch (error) {
      console.error("map", error);
    }
  }

  function onRefresh() {
    const live = document.getElementById("lm-live");
    const main = document.getElementById("main");
    if (!live || !main) return;
    if (live.dataset.state !== main.dataset.state) {
      window.location.reload();
      return;
    }
    moveDriver(pointOf(live, "driver"));
  }

  document.addEventListener("DOMContentLoaded", initMap);
  document.addEventListener("htmx:afterSettle", onRefresh);
})();
