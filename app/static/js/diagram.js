// Case workspace: each process instance's BPMN diagram (bpmn-js viewer, served locally),
// with done / current / waiting steps marked from the lists the page passes in data attributes.
(function () {
  "use strict";

  function show(el) {
    var viewer = new window.BpmnJS({ container: el });
    fetch(el.getAttribute("data-bpmn-url"), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        [["done", "ld-done"], ["waiting", "ld-waiting"], ["current", "ld-current"]].forEach(function (pair) {
          JSON.parse(el.getAttribute("data-" + pair[0]) || "[]").forEach(function (id) {
            if (registry.get(id)) { canvas.addMarker(id, pair[1]); }
          });
        });
        canvas.zoom("fit-viewport");
        el.setAttribute("data-rendered", "1");
      })
      .catch(function () {
        el.textContent = el.getAttribute("data-error");
        el.setAttribute("data-rendered", "error");
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".bpmn-canvas").forEach(show);
  });
})();
