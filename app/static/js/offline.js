// The page's side of offline use (docs/web.md, "Offline use"): registers the service worker for a signed-in
// user and tells it whose pages these are; shows the offline banner; clears everything this app kept on the
// device at sign-out, after a sign-out (the next page says so) and when another user signs in; on the
// offline page, lists the pages the phone keeps for the signed-in user.
//
// Contract for other features (e.g. the offline submission queue):
// - "ld:signout" (cancelable CustomEvent on document) fires when the user signs out, before anything is
//   cleared; preventDefault() keeps the user signed in and on the page (say why, e.g. visits not yet sent).
//   A submit listener on document that cancels the sign-out form's submit event works the same way.
// - At sign-out every "ld-..." cache and IndexedDB database and Workbox's stores are deleted ("ld-draft:"
//   keys by drafts.js). When another user signs in, the pages kept for the previous one are deleted; stores
//   named per user (e.g. "ld-outbox:<user id>") are left to their feature, which opens only the signed-in
//   user's.
// - window.LD.offline: { userKey, ready (Promise of the ServiceWorkerRegistration or null), clear() }.
(function () {
  "use strict";

  var USER = "ld-user";

  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : null;
  }

  // prefix "ld-": everything (sign-out); "ld-pages-" and the key (another user): keeps the app shell.
  function deleteCaches(prefixes) {
    if (!window.caches) { return Promise.resolve(); }
    return caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return prefixes.some(function (p) { return n.indexOf(p) === 0; }); })
        .map(function (n) { return caches.delete(n); }));
    });
  }

  function deleteStores(prefixes) {
    if (!window.indexedDB || !indexedDB.databases) { return Promise.resolve(); }
    return indexedDB.databases().then(function (dbs) {
      return Promise.all(dbs.filter(function (d) { return d.name && prefixes.some(function (p) { return d.name.indexOf(p) === 0; }); })
        .map(function (d) {
          return new Promise(function (done) {
            var req = indexedDB.deleteDatabase(d.name);
            req.onsuccess = req.onerror = req.onblocked = function () { done(); };
          });
        }));
    });
  }

  function unregister() {
    if (!navigator.serviceWorker) { return Promise.resolve(); }
    return navigator.serviceWorker.getRegistrations().then(function (regs) {
      return Promise.all(regs.map(function (r) { return r.unregister(); }));
    });
  }

  // Everything this app kept on the device; the worker itself goes too (a signed-out phone has none).
  function clearAll() {
    try { localStorage.removeItem(USER); } catch (e) { /* storage disabled */ }
    var steps = [deleteCaches(["ld-"]), deleteStores(["ld-", "workbox-"]), unregister()].map(function (p) { return p.catch(function () {}); });
    return Promise.all(steps);
  }

  function withTimeout(promise, ms) {
    return Promise.race([promise, new Promise(function (done) { setTimeout(done, ms); })]);
  }

  // ---- the banner ----
  function banner() {
    var el = document.querySelector(".offline-banner[data-msg-offline]");
    if (!el) { return; }
    var saved = document.documentElement.getAttribute("data-ld-saved-at");
    var when = saved ? new Date(decodeURIComponent(saved)) : null;
    var time = when && !isNaN(when) ? when.toLocaleString(document.documentElement.lang || undefined,
      { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" }) : "";
    if (saved) {  // the worker answered with the kept copy: no connection, or none within its timeout
      el.textContent = el.getAttribute("data-msg-saved").replace("{time}", time);
      el.hidden = false;
    } else if (!navigator.onLine) {
      el.textContent = el.getAttribute("data-msg-offline");
      el.hidden = false;
    } else {
      el.hidden = true;
    }
  }

  // ---- the inbox's "keep these tasks": the worker fetches the listed task pages now ----
  function keepTasks(box) {
    var button = box.querySelector("[data-ld-keep-tasks]");
    var status = box.querySelector("[role=status]");
    box.hidden = false;
    button.addEventListener("click", function () {
      var urls = [];
      document.querySelectorAll("#inbox-table a.step[href]").forEach(function (a) {
        if (urls.indexOf(a.href) < 0 && urls.length < 50) { urls.push(a.href); }
      });
      button.disabled = true;
      status.textContent = box.getAttribute("data-msg-working");
      api.ready.then(function (reg) {
        if (!reg || !reg.active) { throw new Error("no worker"); }
        return new Promise(function (done) {
          var channel = new MessageChannel();
          channel.port1.onmessage = function (event) { done(event.data || {}); };
          reg.active.postMessage({ type: "ld:keep", key: key, urls: urls }, [channel.port2]);
        });
      }).then(function (answer) {
        status.textContent = (answer.kept > 0 || navigator.onLine)
          ? box.getAttribute("data-msg-done").replace("{n}", String(answer.kept || 0))
          : box.getAttribute("data-msg-failed");
      }).catch(function () {
        status.textContent = box.getAttribute("data-msg-failed");
      }).then(function () { button.disabled = false; });
    });
  }

  // ---- the offline page: what this phone keeps for the signed-in user ----
  function listKept() {
    var section = document.querySelector("[data-ld-kept-pages]");
    var none = document.querySelector("[data-ld-none-kept]");
    if (!section || !window.caches) { return; }
    caches.open("ld-meta").then(function (c) { return c.match("/__ld/user"); })
      .then(function (r) { return r ? r.text() : ""; })
      .then(function (key) {
        if (!key) { return []; }
        return caches.keys().then(function (names) {
          if (names.indexOf("ld-pages-" + key) < 0) { return []; }
          return caches.open("ld-pages-" + key).then(function (c) {
            return c.keys().then(function (reqs) {
              return Promise.all(reqs.map(function (req) {
                return c.match(req).then(function (r) { return r.text(); }).then(function (html) {
                  // DOMParser never runs scripts; only the title's text is used.
                  var title = new DOMParser().parseFromString(html, "text/html").title || req.url;
                  return { url: req.url, title: title };
                });
              }));
            });
          });
        });
      })
      .then(function (pages) {
        var list = section.querySelector("ul");
        pages.sort(function (a, b) { return a.url < b.url ? -1 : 1; }).forEach(function (p) {
          var li = document.createElement("li");
          var a = document.createElement("a");
          a.href = p.url;
          a.textContent = p.title;
          li.appendChild(a);
          list.appendChild(li);
        });
        section.hidden = pages.length === 0;
        if (none) { none.hidden = pages.length > 0; }
      })
      .catch(function () { if (none) { none.hidden = false; } });
  }

  // ---- sign-out: ask other features, then clear, then send the form ----
  // On window, in the bubble phase: it runs after every listener on the document, so a feature that stops
  // the sign-out there (preventDefault, stopPropagation) stops it before anything is wiped.
  window.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-logout]") || event.defaultPrevented) { return; }
    if (!document.dispatchEvent(new CustomEvent("ld:signout", { cancelable: true }))) {
      event.preventDefault();  // a feature keeps the user here (and says why)
      return;
    }
    event.preventDefault();
    var worker = navigator.serviceWorker && navigator.serviceWorker.controller;
    var told = worker ? new Promise(function (done) {
      var channel = new MessageChannel();
      channel.port1.onmessage = function () { done(); };
      worker.postMessage({ type: "ld:signout" }, [channel.port2]);
    }) : Promise.resolve();
    withTimeout(told.then(clearAll), 3000).then(function () { HTMLFormElement.prototype.submit.call(form); });
  });

  var key = meta("ld-user-key");
  var api = { userKey: key, ready: Promise.resolve(null), clear: clearAll };
  window.LD = window.LD || {};
  window.LD.offline = api;

  document.addEventListener("DOMContentLoaded", function () {
    banner();
    window.addEventListener("online", banner);
    window.addEventListener("offline", banner);
    listKept();
    var box = document.querySelector("[data-ld-keep]");
    if (box && key && "serviceWorker" in navigator && window.MessageChannel) { keepTasks(box); }
  });

  // Back to a page restored from the back-forward cache after signing out or as someone else: ask again.
  window.addEventListener("pageshow", function (event) {
    var stored = null;
    try { stored = localStorage.getItem(USER); } catch (e) { /* storage disabled */ }
    if (event.persisted && key && stored !== key) { window.location.reload(); }
  });

  if (meta("ld-signed-out")) {  // the page after a sign-out: nothing of the last user stays
    clearAll();
    return;
  }
  if (!key || !("serviceWorker" in navigator)) { return; }

  var previous = null;
  try { previous = localStorage.getItem(USER); localStorage.setItem(USER, key); } catch (e) { /* storage disabled */ }
  var switched = previous && previous !== key
    ? deleteCaches(["ld-pages-", "ld-meta"]).catch(function () {})  // someone else used this phone
    : Promise.resolve();
  var controlled = !!navigator.serviceWorker.controller;
  api.ready = switched.then(function () {
    return navigator.serviceWorker.register("/sw.js", { scope: "/", updateViaCache: "none" });
  }).then(function () { return navigator.serviceWorker.ready; }).then(function (reg) {
    var keep = !controlled && meta("ld-offline-page") ? window.location.href : null;
    return new Promise(function (done) {
      var channel = new MessageChannel();
      channel.port1.onmessage = function () { done(reg); };
      reg.active.postMessage({ type: "ld:user", key: key, keep: keep }, [channel.port2]);
    });
  }).catch(function () { return null; });
})();
