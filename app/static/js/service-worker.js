// Liandong's service worker (docs/web.md, "Offline use"), loaded by /sw.js after Workbox's browser builds,
// with self.LD_CONFIG set by the server (precache manifest, limits).
//
// - The app shell (CSS, scripts, icons, the offline page) is precached with revisions.
// - A page is kept only in its user's cache, "ld-pages-<user key>", and only when the server answered it
//   200 with "X-Liandong-Offline: <that key>" and without "no-store": the server decides what may leave it.
// - Navigations: network first with a short timeout, then the user's kept copy (marked so the page shows
//   its offline banner), then the offline page. Nothing else of the app (API, htmx fragments, drafts,
//   downloads) is ever cached.
// - A response for another user switches the phone to that user and deletes the previous user's pages;
//   sign-out ("ld:signout") deletes every cache and store this app made.
/* global workbox, LD_CONFIG */
(function () {
  "use strict";

  var cfg = self.LD_CONFIG;
  var PAGES = "ld-pages-";
  var META = "ld-meta";
  var USER_URL = "/__ld/user";
  var HEADER = "x-liandong-offline";

  // Every cache this app makes is named "ld-...", so sign-out can find them all.
  workbox.core.setCacheNameDetails({ prefix: "ld", suffix: "v1" });
  // A new worker takes over at once: pages are rendered by the server and the shell is revisioned.
  self.skipWaiting();
  workbox.core.clientsClaim();

  // Every IndexedDB connection this worker opens (Workbox's expiration records) closes when a page deletes
  // its database at sign-out; otherwise the deletion would wait, blocked, until the browser stops the worker.
  var openDatabase = IDBFactory.prototype.open;
  IDBFactory.prototype.open = function () {
    var request = openDatabase.apply(this, arguments);
    request.addEventListener("success", function () {
      request.result.addEventListener("versionchange", function () { request.result.close(); });
    });
    return request;
  };

  // ---- who the phone is working for ----
  var currentKey = null;  // memo of META; the worker may be stopped and restarted at any time

  function readKey() {
    if (currentKey !== null) { return Promise.resolve(currentKey); }
    return caches.open(META).then(function (c) { return c.match(USER_URL); })
      .then(function (r) { return r ? r.text() : ""; })
      .then(function (k) { currentKey = k; return k; });
  }

  function deleteCaches(keep) {
    return caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n.indexOf("ld-") === 0 && keep.indexOf(n) < 0; })
        .map(function (n) { return caches.delete(n); }));
    });
  }

  // Workbox's expiration records of the dropped caches go with them (its database stays open here).
  function forgetPages() {
    var plugins = Object.keys(expirations).map(function (k) { return expirations[k]; });
    strategies = {};
    expirations = {};
    return Promise.all(plugins.map(function (p) { return p.deleteCacheAndMetadata().catch(function () {}); }));
  }

  var switching = Promise.resolve();
  function useKey(key) {
    switching = switching.then(function () {
      return readKey().then(function (old) {
        if (old === key) { return; }
        return forgetPages().then(function () {
          var keep = [workbox.core.cacheNames.precache, "ld-static-v1"];
          return old ? deleteCaches(keep.concat([PAGES + key])) : null;
        }).then(function () { return caches.open(META); })
          .then(function (c) { return c.put(USER_URL, new Response(key)); })
          .then(function () { currentKey = key; });
      });
    }).catch(function () { /* storage refused: pages of this visit are not kept */ });
    return switching;
  }

  function signOut() {
    currentKey = "";
    return forgetPages().then(function () { return deleteCaches([]); });  // stores: offline.js
  }

  // ---- the pages of one user ----
  var strategies = {};
  var expirations = {};

  function keepOnly(key) {
    return {
      cacheWillUpdate: function (p) {
        var r = p.response;
        var ok = r && r.status === 200 && r.headers.get(HEADER) === key
          && !/no-store/i.test(r.headers.get("cache-control") || "");
        return Promise.resolve(ok ? r : null);
      },
      fetchDidSucceed: function (p) {
        var other = p.response.headers.get(HEADER);
        return (other && other !== key ? useKey(other) : Promise.resolve()).then(function () { return p.response; });
      },
      // A kept copy says so: the page shows its offline banner with the time it was saved.
      cachedResponseWillBeUsed: function (p) {
        var r = p.cachedResponse;
        if (!r) { return Promise.resolve(null); }
        var saved = r.headers.get("date") || "";
        var headers = new Headers(r.headers);
        return r.text().then(function (html) {
          var marked = html.replace(/<html\b/i, '<html data-ld-saved-at="' + encodeURIComponent(saved) + '"');
          return new Response(marked, { status: r.status, statusText: r.statusText, headers: headers });
        });
      }
    };
  }

  function pagesOf(key) {
    if (!strategies[key]) {
      expirations[key] = new workbox.expiration.ExpirationPlugin({
        maxEntries: cfg.pageMaxEntries, maxAgeSeconds: cfg.pageMaxAge, purgeOnQuotaError: true
      });
      strategies[key] = new workbox.strategies.NetworkFirst({
        cacheName: PAGES + key,
        networkTimeoutSeconds: cfg.networkTimeout,
        plugins: [keepOnly(key), expirations[key]]
      });
    }
    return strategies[key];
  }

  function notKept(url) {
    return cfg.notKept.some(function (prefix) { return url.pathname.indexOf(prefix) === 0; });
  }

  function offlinePage() {
    return workbox.precaching.matchPrecache(cfg.offlineUrl).then(function (r) { return r || Response.error(); });
  }

  workbox.precaching.cleanupOutdatedCaches();
  workbox.precaching.precacheAndRoute(cfg.precache);

  workbox.routing.registerRoute(function (o) {
    return o.request.mode === "navigate" && o.url.origin === self.location.origin && !notKept(o.url);
  }, function (o) {
    return readKey().then(function (key) {
      if (!key) { return fetch(o.request); }
      return pagesOf(key).handle({ event: o.event, request: o.request });
    }).catch(offlinePage);
  });

  // Other static files a kept page uses (e.g. the diagram viewer): no user's data, kept 30 days.
  workbox.routing.registerRoute(function (o) {
    return o.url.origin === self.location.origin && o.url.pathname.indexOf("/static/") === 0;
  }, new workbox.strategies.StaleWhileRevalidate({
    cacheName: "ld-static-v1",
    plugins: [new workbox.expiration.ExpirationPlugin({ maxEntries: 80, maxAgeSeconds: 30 * 24 * 3600 })]
  }));

  // The inbox's "keep these tasks": fetch each task page of this origin now, one after the other (a phone on
  // one bar of signal), through the same strategy, so only what the server marks for this user is kept.
  function keepAll(key, urls, event) {
    var kept = 0;
    var chain = Promise.resolve();
    urls.slice(0, 50).forEach(function (raw) {
      var url;
      try { url = new URL(raw, self.location.href); } catch (e) { return; }
      if (url.origin !== self.location.origin || !/^\/tasks\/\d+$/.test(url.pathname)) { return; }
      chain = chain.then(function () {
        var handled = pagesOf(key).handleAll({ event: event, request: new Request(url.href, { credentials: "same-origin" }) });
        handled[0].catch(function () { /* offline: counted as not kept below */ });
        return handled[1].then(function () { return caches.open(PAGES + key); })
          .then(function (c) { return c.match(url.href); })
          .then(function (hit) { if (hit) { kept += 1; } })
          .catch(function () { /* this one failed: the others are still tried */ });
      });
    });
    return chain.then(function () { return kept; });
  }

  // ---- messages from the pages (static/js/offline.js) ----
  self.addEventListener("message", function (event) {
    var data = event.data || {};
    var reply = function () { if (event.ports && event.ports[0]) { event.ports[0].postMessage({ ok: true }); } };
    if (data.type === "ld:user" && typeof data.key === "string" && /^[0-9a-f]{24}$/.test(data.key)) {
      var work = useKey(data.key).then(function () {
        // The first page of a visit was loaded before this worker controlled it: keep it now.
        if (!data.keep) { return; }
        var url = new URL(data.keep, self.location.href);
        if (url.origin !== self.location.origin || notKept(url)) { return; }
        return pagesOf(data.key).handle({ event: event, request: new Request(url.href, { credentials: "same-origin" }) })
          .catch(function () { /* offline meanwhile: kept on the next visit */ });
      });
      event.waitUntil(work.then(reply));
    } else if (data.type === "ld:keep" && typeof data.key === "string" && Array.isArray(data.urls)) {
      event.waitUntil(useKey(data.key).then(function () { return keepAll(data.key, data.urls, event); })
        .then(function (kept) { if (event.ports && event.ports[0]) { event.ports[0].postMessage({ kept: kept }); } }));
    } else if (data.type === "ld:signout") {
      event.waitUntil(signOut().then(reply));
    }
  });

  // For extensions in static/js/sw/ (e.g. the offline submission queue): who the phone works for.
  self.ld = { userKey: readKey, pagesCacheName: function (key) { return PAGES + key; } };
})();
