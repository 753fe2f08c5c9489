// Reports: draws the charts of a report from the data its partial carries (json_script), again
// after each htmx swap of the results: after it settles, since htmx's settle step resets the
// attributes of elements whose id it kept (the canvas), undoing the size Chart.js gave it.
// A canvas names its data's element in data-chart-data (the deliveries chart by its id).
(function () {
  "use strict";

  var COLOURS = {
    done: "#198754", failed: "#dc3545", other: "#6c757d",
    queued: "#adb5bd", sent: "#0d6efd", delivered: "#198754", bounced: "#fd7e14",
    driving: "#0d6efd", at_customers: "#198754", idle: "#adb5bd",
  };

  function drawOne(canvas, source) {
    if (!canvas || !source || typeof window.Chart === "undefined") return;
    var existing = window.Chart.getChart(canvas);
    if (existing) existing.destroy();
    var data = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (series) {
          return { label: series.label, data: series.data, backgroundColor: COLOURS[series.key], stack: "total" };
        }),
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }

  function draw(root) {
    drawOne(root.querySelector("#deliveries-chart"), root.querySelector("#deliveries-chart-data"));
    root.querySelectorAll("canvas[data-chart-data]").forEach(function (canvas) {
      drawOne(canvas, document.getElementById(canvas.getAttribute("data-chart-data")));
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.detail.target); });
})();
