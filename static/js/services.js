// The services pages: bulk selection, the Last Mile link's copy button, and the service's map.
(() => {
  "use strict";

  // Bulk actions: select all on the page, show the fields the chosen action needs, confirm deletes.
  function selectedBoxes(form) {
    return form.querySelectorAll('input[type="checkbox"][name="service"]');
  }

  function refreshBulk(form) {
    const boxes = Array.from(selectedBoxes(form));
    const checked = boxes.filter((box) => box.checked).length;
    const all = form.querySelector("[data-select-all]");
    if (all) {
      all.checked = boxes.length > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
    const counter = form.querySelector("[data-selected-count]");
    if (counter) counter.textContent = String(checked);
    const submit = form.querySelector("[data-bulk-submit]");
    if (submit) submit.disabled = checked === 0;
    // The bulk controls take room (a phone's whole screen): shown once something is selected.
    const controls = form.querySelector("[data-bulk-controls]");
    // (a class, not `hidden`: the fieldset's d-flex would win over [hidden])
    if (controls) controls.classList.toggle("d-none", checked === 0);
    const action = form.querySelector('[name="action"]');
    form.querySelectorAll("[data-bulk-for]").forEach((element) => {
      const wanted = element.dataset.bulkFor.split(" ");
      element.hidden = action ? !wanted.includes(action.value) : false;
    });
  }

  function initBulk(root) {
    root.querySelectorAll("[data-bulk-form]").forEach((form) => refreshBulk(form));
  }

  document.addEventListener("change", (event) => {
    const form = event.target.closest("[data-bulk-form]");
    if (!form) return;
    if (event.target.matches("[data-select-all]")) {
      selectedBoxes(form).forEach((box) => {
        box.checked = event.target.checked;
      });
    }
    refreshBulk(form);
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.matches("[data-bulk-form]")) return;
    const action = form.querySelector('[name="action"]');
    const button = form.querySelector("[data-confirm-delete]");
    if (action && action.value === "delete" && button && !window.confirm(button.dataset.confirmDelete)) {
      event.preventDefault();
    }
  });

  // The Last Mile link: copy to the clipboard, or select it for the user to copy.
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy-target]");
    if (!button) return;
    const input = document.querySelector(button.dataset.copyTarget);
    const status = button.closest(".card-body")?.querySelector("[data-copy-status]");
    if (!input) return;
    try {
      await navigator.clipboard.writeText(input.value);
      if (status) status.textContent = button.dataset.copiedText || "Copied";
    } catch {
      input.focus();
      input.select();
    }
  });

  // The service's point on a map; without Leaflet (blocked, failed to load) the coordinates stay.
  function initMap() {
    const element = document.getElementById("service-map");
    if (!element || element.dataset.ready || typeof window.L === "undefined") return;
    const lat = Number.parseFloat(element.dataset.lat);
    const lng = Number.parseFloat(element.dataset.lng);
    if (!Number.isFinite(lat) || !Number.isFinite(lng)) return;
    try {
      element.dataset.ready = "1";
      element.classList.add("has-map");
      element.replaceChildren();
      const map = window.L.map(element, { scrollWheelZoom: false }).setView([lat, lng], 16);
      window.L.tileLayer(element.dataset.tiles, {
        maxZoom: 19,
        attribution: element.dataset.attribution,
      }).addTo(map);
      const marker = window.L.marker([lat, lng]).addTo(map);
      if (element.dataset.label) {
        const label = document.createElement("span");
        label.textContent = element.dataset.label;
        marker.bindPopup(label);
      }
    } catch (error) {
      console.error("map", error);
    }
  }

  function init(root) {
    initBulk(root);
    initMap();
  }

  document.addEventListener("DOMContentLoaded", () => init(document));
  // htmx swaps the results (and their bulk form) in without a page load.
  document.addEventListener("htmx:afterSettle", (event) => init(event.target));
})();
