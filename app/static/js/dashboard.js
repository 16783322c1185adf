// Coordinator dashboard: the trend chart (Chart.js, served locally) from the rows the page passes in
// data attributes. A file, not an inline script: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.getElementById("trend-chart");
    if (!canvas || typeof Chart === "undefined") { return; }
    var rows = JSON.parse(canvas.dataset.trend), names = JSON.parse(canvas.dataset.labels);
    new Chart(canvas, {
      type: "line",
      data: {
        labels: rows.map(function (r) { return r.day; }),
        datasets: [
          {label: names[0], data: rows.map(function (r) { return r.on_time; })},
          {label: names[1], data: rows.map(function (r) { return r.late; })},
          {label: names[2], data: rows.map(function (r) { return r.escalations; })}
        ]
      },
      options: {animation: false, scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}
    });
  });
})();
