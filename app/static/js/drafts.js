// Task forms keep what was typed: a copy on the device (localStorage, keyed by user, task and form) as
// the user types, and on the server when online (PUT <data-draft-url>); the newer one is restored when
// the page opens again. A submit while offline goes to the outbox (outbox.js: queued on the phone, sent
// when the signal returns) or, without one, is held back with a message, so the browser's error page
// never replaces the form. Sign-out clears the copies (with the server's Clear-Site-Data).
(function () {
  "use strict";

  var PREFIX = "ld-draft:";
  var signingOut = false;
  var SKIP = { csrf_token: 1, idempotency_key: 1 };

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; }
    catch (e) { return ""; }
  }

  function collect(form) {
    var fields = {};
    form.querySelectorAll("input[name], select[name], textarea[name]").forEach(function (el) {
      if (SKIP[el.name] || el.type === "file" || el.type === "submit" || el.type === "button" || el.disabled) { return; }
      if (el.closest("template")) { return; }
      var values = [];
      if (el.type === "checkbox" || el.type === "radio") {
        if (!el.checked) { if (!(el.name in fields)) { fields[el.name] = []; } return; }
        values = [el.value];
      } else if (el.tagName === "SELECT" && el.multiple) {
        values = Array.prototype.filter.call(el.options, function (o) { return o.selected; }).map(function (o) { return o.value; });
      } else {
        values = [el.value];
      }
      fields[el.name] = (fields[el.name] || []).concat(values);
    });
    Object.keys(fields).forEach(function (name) {
      var el = form.querySelector('[name="' + CSS.escape(name) + '"]');
      if (fields[name].length === 1 && el && el.type !== "checkbox") { fields[name] = fields[name][0]; }
    });
    return fields;
  }

  // Repeated groups: add rows until the field a draft names exists (rows are numbered name-<i>-field).
  function ensureRow(form, name) {
    var m = /^(.+)-(\d+)(-.*)?$/.exec(name);
    if (!m) { return; }
    var group = form.querySelector('[data-group="' + CSS.escape(m[1]) + '"]');
    if (!group) { return; }
    var add = group.querySelector("[data-add-row]");
    for (var i = 0; i < 50 && add && !form.querySelector('[name="' + CSS.escape(name) + '"]'); i++) { add.click(); }
  }

  function apply(form, fields) {
    Object.keys(fields).forEach(function (name) {
      if (SKIP[name]) { return; }
      ensureRow(form, name);
      var values = [].concat(fields[name]).map(String);
      form.querySelectorAll('[name="' + CSS.escape(name) + '"]').forEach(function (el, index) {
        if (el.type === "file" || el.type === "hidden") { return; }
        if (el.type === "checkbox" || el.type === "radio") { el.checked = values.indexOf(el.value) >= 0; }
        else if (el.tagName === "SELECT" && el.multiple) {
          Array.prototype.forEach.call(el.options, function (o) { o.selected = values.indexOf(o.value) >= 0; });
        } else if (values[index] !== undefined) { el.value = values[index]; }
      });
    });
  }

  function readLocal(key) {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }

  function status(form, text) {
    var el = form.querySelector(".draft-status");
    if (el) { el.textContent = text; }
  }

  function setup(form) {
    var key = form.getAttribute("data-draft-key");
    var url = form.getAttribute("data-draft-url");
    var discard = form.querySelector(".draft-discard");
    var timer = null;
    var lastSent = "";

    function saveNow(deviceOnly) {
      timer = null;
      if (signingOut) { return; }
      var draft = { fields: collect(form), saved_at: new Date().toISOString() };
      try { localStorage.setItem(key, JSON.stringify(draft)); } catch (e) { /* full or disabled: server copy only */ }
      status(form, form.getAttribute("data-msg-saved-local"));
      if (discard) { discard.hidden = false; }
      var body = JSON.stringify(draft);
      if (deviceOnly === true || !navigator.onLine || body === lastSent) { return; }
      fetch(url, { method: "PUT", credentials: "same-origin", body: body,
                   headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() } })
        .then(function (r) { if (r.ok) { lastSent = body; status(form, form.getAttribute("data-msg-saved")); } })
        .catch(function () { /* offline: the device copy stays and is sent with the next change */ });
    }

    function later() { clearTimeout(timer); timer = setTimeout(function () { saveNow(); }, 600); }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    window.addEventListener("online", function () { saveNow(); });
    window.addEventListener("pagehide", function () { if (timer) { clearTimeout(timer); saveNow(true); } });

    // Restore: the newer of the device's copy and the server's.
    var local = readLocal(key);
    var fromServer = navigator.onLine
      ? fetch(url, { credentials: "same-origin", cache: "no-store" })
          .then(function (r) { return r.ok ? r.json() : null; }).catch(function () { return null; })
      : Promise.resolve(null);
    fromServer.then(function (server) {
      var best = local;
      if (server && server.fields && (!best || Date.parse(server.saved_at) > Date.parse(best.saved_at))) { best = server; }
      if (best && best.fields && !form.hasAttribute("data-rerendered")) {
        apply(form, best.fields);
        status(form, form.getAttribute("data-msg-restored"));
        if (discard) { discard.hidden = false; }
      }
      form.setAttribute("data-draft-ready", "1");
    });

    if (discard) {
      discard.addEventListener("click", function () {
        try { localStorage.removeItem(key); } catch (e) { /* nothing kept */ }
        fetch(url, { method: "DELETE", credentials: "same-origin", headers: { "X-CSRFToken": csrf() } })
          .finally(function () { window.location.reload(); });
      });
    }

    // Submitting: keep the copy until the server answers; offline, do not leave the page at all.
    form.addEventListener("submit", function (event) {
      clearTimeout(timer);
      // Only the device's copy while sending: a draft PUT racing the completion would outlive it.
      if (form.getAttribute("data-online-checked") === "1") {
        form.removeAttribute("data-online-checked");
        saveNow(true);
        return;
      }
      event.preventDefault();
      var submitter = event.submitter;
      saveNow(true);
      // The outbox (outbox.js) takes a form with photos, and any form while offline: queued on the phone.
      var outbox = window.ldOutbox;
      if (outbox && outbox.wants(form) && outbox.take(form)) { return; }
      var offline = function () { if (!(outbox && outbox.take(form))) { showOffline(form); } };
      if (!navigator.onLine) { offline(); return; }
      fetch(url, { credentials: "same-origin", cache: "no-store" })
        .then(function () {
          form.setAttribute("data-online-checked", "1");
          form.requestSubmit(submitter || undefined);
        })
        .catch(offline);
    });
  }

  function showOffline(form) {
    var flash = document.getElementById("flash");
    var text = form.getAttribute("data-msg-offline");
    if (!flash) { return; }
    var old = flash.querySelector(".flash.offline");
    if (old) { old.remove(); }
    var p = document.createElement("p");
    p.className = "flash error offline";
    p.setAttribute("role", "alert");
    p.textContent = text;
    flash.appendChild(p);
    p.scrollIntoView({ block: "nearest" });
  }

  // After a step was completed (the page after the redirect names it), or on a task page that has no open
  // form any more, the device's copies of that task go; copies untouched for 30 days go too.
  function forget(prefix) {
    for (var i = localStorage.length - 1; i >= 0; i--) {
      var k = localStorage.key(i);
      if (k && k.indexOf(prefix) === 0) { localStorage.removeItem(k); }
    }
  }

  function prune() {
    document.querySelectorAll("meta[name=ld-forget-draft], [data-forget-draft]").forEach(function (el) {
      forget(el.getAttribute("content") || el.getAttribute("data-forget-draft"));
    });
    var old = Date.now() - 30 * 24 * 3600 * 1000;
    for (var i = localStorage.length - 1; i >= 0; i--) {
      var k = localStorage.key(i);
      if (k && k.indexOf(PREFIX) === 0) {
        var d = readLocal(k);
        if (!d || !(Date.parse(d.saved_at) > old)) { localStorage.removeItem(k); }
      }
    }
  }

  // Sign-out on plain http (where Clear-Site-Data is not honoured): drop every draft on this device.
  document.addEventListener("submit", function (event) {
    if (!event.target.matches("form[data-logout]")) { return; }
    signingOut = true;  // no draft is written again while this page unloads
    try { forget(PREFIX); } catch (e) { /* storage disabled: nothing kept */ }
  });

  document.addEventListener("DOMContentLoaded", function () {
    try { prune(); } catch (e) { /* storage disabled */ }
    document.querySelectorAll("form[data-draft-key]").forEach(setup);
  });
})();
