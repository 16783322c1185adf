// Liandong pages: small progressive enhancements (the pages work without them, except adding group rows).
(function () {
  "use strict";

  // Repeated groups: clone the <template> row, numbering its inputs after the existing rows.
  function nextIndex(group) {
    var max = -1;
    var prefix = group.getAttribute("data-group") + "-";
    group.querySelectorAll(".rows [name]").forEach(function (el) {
      var rest = el.name.slice(prefix.length);
      var n = parseInt(rest.split("-")[0], 10);
      if (el.name.indexOf(prefix) === 0 && !isNaN(n) && n > max) { max = n; }
    });
    return max + 1;
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var group = add.closest("[data-group]");
      var template = group.querySelector(":scope > template");
      var html = template.innerHTML.split("__i__").join(String(nextIndex(group)));
      group.querySelector(":scope > .rows").insertAdjacentHTML("beforeend", html);
      return;
    }
    if (event.target.closest("[data-print]")) { window.print(); return; }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) { remove.closest(".row").remove(); }
  });

  // "Select all" checkbox in the inbox (unit heads reassign many tasks at once).
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (!all) { return; }
    var form = all.closest("form");
    form.querySelectorAll('input[name="' + all.getAttribute("data-select-all") + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });

  // Forms marked data-once disable their submit button after the first click (the server's
  // idempotency key makes a second submission harmless anyway).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-once")) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }
  });

  // Refusals from htmx actions (403 another unit, 409 already claimed) appear in the flash bar.
  document.addEventListener("htmx:responseError", function (event) {
    var flash = document.getElementById("flash");
    if (!flash) { return; }
    var p = document.createElement("p");
    p.className = "flash error";
    p.setAttribute("role", "alert");
    p.textContent = event.detail.xhr.responseText || event.detail.xhr.statusText;
    flash.appendChild(p);
  });

  // Phones: the header menu folds behind its button; wide screens show it (CSS) and open the
  // <details data-open-wide> sections (case details, instructions) that a phone keeps folded.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".menu-toggle");
    if (!toggle) { return; }
    var menu = document.getElementById(toggle.getAttribute("aria-controls"));
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("open", open);
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (window.matchMedia("(min-width: 901px)").matches) {
      document.querySelectorAll("details[data-open-wide]").forEach(function (d) { d.open = true; });
    }
  });

  // List tables become cards on phones (app.css): each cell shows its column's name from data-label.
  // Templates may set data-label themselves; the rest are filled here from the table's header row.
  function labelCells(root) {
    root.querySelectorAll("table.list").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      if (!heads.length) { return; }
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        Array.prototype.forEach.call(tr.children, function (td, i) {
          if (td.tagName === "TD" && !td.hasAttribute("data-label") && heads[i] && !td.hasAttribute("colspan")) {
            td.setAttribute("data-label", heads[i]);
          }
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { labelCells(document); });
  document.addEventListener("htmx:afterSettle", function () { labelCells(document); });
})();
