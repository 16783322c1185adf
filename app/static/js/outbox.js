// The phone's outbox (issue 14, part 3): a task form completed without a signal is queued in IndexedDB with
// its idempotency key (made once, when the user pressed submit), the task version the form was rendered
// from, its fields and its photos (blobs, shrunk when huge). It is sent when the signal returns (the
// `online` event, every page load, the service worker's background sync), oldest first, photos before the
// completion that names them, with retries and backoff. The server applies each submission exactly once
// and refuses a stale one (409) with both versions; the entry then waits for the worker's decision on
// /outbox (keep the text as a comment, or discard): nothing is overwritten silently.
// One database per user (`ld-outbox-<user key>`), only ever opened for the signed-in user and deleted at
// sign-out. docs/web.md, "Offline submissions".
(function () {
  "use strict";

  var STORE = "entries";
  var MAX_EDGE = 1600;           // photos larger than this (px) or than MAX_BYTES are re-encoded as JPEG
  var MAX_BYTES = 1500 * 1024;
  var BACKOFF_MAX = 10 * 60 * 1000;
  var flushing = false;
  var retryTimer = null;

  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : null;
  }

  function indicator() { return document.getElementById("outbox-indicator"); }

  function msg(name, n) {
    var el = indicator();
    var text = (el && el.getAttribute("data-msg-" + name)) || "";
    return n === undefined ? text : text.replace("{n}", String(n));
  }

  var userId = meta("ld-user");
  // Named by the user's key (offline.js's contract: `ld-*` stores are wiped at sign-out), else the id.
  var dbName = function () { return "ld-outbox-" + (meta("ld-user-key") || userId); };

  function openDb() {
    return new Promise(function (resolve, reject) {
      if (!userId || !window.indexedDB) { reject(new Error("no outbox")); return; }
      var req = indexedDB.open(dbName(), 1);
      req.onupgradeneeded = function () {
        var store = req.result.createObjectStore(STORE, { keyPath: "key" });
        store.createIndex("created", "created");
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function withStore(mode, fn) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = fn(tx.objectStore(STORE));
        tx.oncomplete = function () { db.close(); resolve(result && "result" in result ? result.result : result); };
        tx.onerror = function () { db.close(); reject(tx.error); };
        tx.onabort = function () { db.close(); reject(tx.error); };
      });
    });
  }

  // Reading an outbox that was never written creates nothing (every page load of every user reads it).
  function exists() {
    if (!window.indexedDB || !indexedDB.databases) { return Promise.resolve(true); }
    return indexedDB.databases().then(function (dbs) {
      return dbs.some(function (d) { return d.name === dbName(); });
    }, function () { return true; });
  }

  function all() {
    return exists().then(function (yes) {
      return yes ? withStore("readonly", function (store) { return store.index("created").getAll(); }) : [];
    })
      .then(function (rows) { return rows || []; })
      .catch(function () { return []; });
  }
  // Other tabs of the app redraw their indicator and list when this one changes the queue.
  var channel = window.BroadcastChannel ? new BroadcastChannel("ld-outbox") : null;
  function changed() { if (channel) { channel.postMessage("changed"); } }
  function put(entry) { return withStore("readwrite", function (store) { store.put(entry); }).then(changed); }
  function remove(key) { return withStore("readwrite", function (store) { store.delete(key); }).then(changed); }

  // --- queueing ---------------------------------------------------------------------------------------

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var a = new Uint8Array(16);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // A photo as taken may be 5-10 MB: shrink it on the phone (smaller queue, a send that fits a weak signal).
  function shrink(file) {
    if (!/^image\//.test(file.type) || !window.createImageBitmap) { return Promise.resolve(file); }
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, MAX_EDGE / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.size <= MAX_BYTES && /jpe?g|png/.test(file.type)) { return file; }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob || file); }, "image/jpeg", 0.8);
      });
    }).catch(function () { return file; });
  }

  function photoName(file, blob, i) {
    var base = (file.name || "photo-" + (i + 1)).replace(/\.[^.]*$/, "");
    var ext = blob.type === "image/png" ? ".png" : ".jpg";
    return base + ext;
  }

  function photosOf(form) {
    var files = [];
    form.querySelectorAll("input[type=file][data-outbox-photo]").forEach(function (input) {
      Array.prototype.forEach.call(input.files || [], function (f) { files.push(f); });
    });
    return files;
  }

  // True when this form goes through the outbox even online: its photos must be uploaded before it.
  function wants(form) { return form.hasAttribute("data-outbox") && photosOf(form).length > 0; }

  // Queue the form (one entry per task: pressing submit again before it was sent updates the same entry,
  // under the same key), then try to send at once. Returns false when the outbox cannot take it.
  function take(form) {
    if (!form.hasAttribute("data-outbox") || !userId || !window.indexedDB) { return false; }
    var keyInput = form.querySelector("input[name=idempotency_key]");
    var key = form.getAttribute("data-outbox-key") || uuid();
    form.setAttribute("data-outbox-key", key);
    if (keyInput) { keyInput.value = key; }
    var fields = [];
    new FormData(form).forEach(function (value, name) {
      if (name === "csrf_token" || name === "idempotency_key" || typeof value !== "string") { return; }
      fields.push([name, value]);
    });
    var version = (form.querySelector("input[name=task_version]") || {}).value || "";
    var files = photosOf(form);
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    Promise.all(files.map(shrink)).then(function (blobs) {
      return all().then(function (entries) {
        var earlier = entries.filter(function (e) { return e.key === key; })[0];
        if (earlier && earlier.state === "sending") { return null; }
        var photos = blobs.map(function (blob, i) {
          return { key: key + "-p" + i, name: photoName(files[i], blob, i), blob: blob, attachmentId: null };
        });
        var entry = {
          key: key, user: userId, taskId: form.getAttribute("data-task-id"), step: form.getAttribute("data-step"),
          caseNumber: form.getAttribute("data-case-number"), action: form.action,
          uploadUrl: form.getAttribute("data-upload-url"), commentUrl: form.getAttribute("data-comment-url"),
          draftKey: form.getAttribute("data-draft-key"), version: version, fields: fields,
          photos: photos.length ? photos : (earlier ? earlier.photos : []),
          state: "waiting", attempts: 0, next: 0, created: earlier ? earlier.created : Date.now(), error: ""
        };
        return put(entry).then(function () { return entry; });
      });
    }).then(function (entry) {
      if (button) { button.disabled = false; }
      if (!entry) { return; }
      say(msg("queued"));
      register();
      render();
      flush();
    }).catch(function () {
      if (button) { button.disabled = false; }
    });
    return true;
  }

  function say(text) {
    var flash = document.getElementById("flash");
    if (!flash || !text) { return; }
    var old = flash.querySelector(".flash.offline");
    if (old) { old.remove(); }
    var p = document.createElement("p");
    p.className = "flash info offline";
    p.setAttribute("role", "status");
    p.textContent = text;
    flash.appendChild(p);
  }

  // Background sync (Chromium): the service worker posts {type: "ld-outbox-flush"} to its pages on `sync`.
  function register() {
    if (!("serviceWorker" in navigator)) { return; }
    navigator.serviceWorker.getRegistration().then(function (reg) {
      if (reg && reg.sync) { return reg.sync.register("ld-outbox"); }
      return null;
    }).catch(function () { /* no worker or no permission: `online` and page loads still send */ });
  }

  // --- sending ----------------------------------------------------------------------------------------

  function Retry(message) { this.message = message; }

  function session() {
    var url = indicator() && indicator().getAttribute("data-session-url");
    if (!url) { return Promise.reject(new Retry("no session url")); }
    return fetch(url, { credentials: "same-origin", cache: "no-store", redirect: "manual",
                        headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok || r.type === "opaqueredirect") { throw new Retry("signed out"); }
        return r.json();
      }, function () { throw new Retry("offline"); });
  }

  function post(url, body, token) {
    return fetch(url, { method: "POST", body: body, credentials: "same-origin", redirect: "manual",
                        headers: { Accept: "application/json", "X-CSRFToken": token } })
      .then(function (r) {
        if (r.type === "opaqueredirect") { throw new Retry("signed out"); }
        if (r.status >= 500 || r.status === 400 || r.status === 429) { throw new Retry("server " + r.status); }
        return r.json().catch(function () { return {}; }).then(function (body) { return { status: r.status, body: body }; });
      }, function () { throw new Retry("offline"); });
  }

  function refuse(entry, answer) {
    var body = answer.body || {};
    if (answer.status === 409 && body.conflict) {
      entry.state = "conflict";
      entry.conflict = body.conflict;
    } else {
      entry.state = "refused";
      entry.error = body.message || String(answer.status);
      entry.errors = body.errors || null;
    }
    return put(entry).then(function () {
      // The worker is looking at this very form: show the decision now (both versions on /outbox).
      var form = document.querySelector("form[data-outbox][data-outbox-key]");
      if (form && form.getAttribute("data-outbox-key") === entry.key && indicator()) {
        location.assign(indicator().getAttribute("href"));
      }
    });
  }

  function sendPhotos(entry, token, i) {
    if (i >= entry.photos.length) { return Promise.resolve(true); }
    var photo = entry.photos[i];
    if (photo.attachmentId) { return sendPhotos(entry, token, i + 1); }
    var body = new FormData();
    body.append("file", photo.blob, photo.name);
    body.append("idempotency_key", photo.key);
    return post(entry.uploadUrl, body, token).then(function (answer) {
      if (answer.status !== 200) { return refuse(entry, answer).then(function () { return false; }); }
      photo.attachmentId = answer.body.attachment_id;
      return put(entry).then(function () { return sendPhotos(entry, token, i + 1); });
    });
  }

  function sendEntry(entry, token) {
    entry.state = "sending";
    return put(entry).then(function () { return sendPhotos(entry, token, 0); }).then(function (ok) {
      if (!ok) { return null; }
      var body = new FormData();
      entry.fields.forEach(function (pair) { if (pair[0] !== "task_version") { body.append(pair[0], pair[1]); } });
      body.append("idempotency_key", entry.key);
      body.append("task_version", entry.version);
      entry.photos.forEach(function (p) { body.append("attachment_ids", p.attachmentId); });
      return post(entry.action, body, token).then(function (answer) {
        if (answer.status === 200) { return remove(entry.key).then(function () { sent(entry); }); }
        return refuse(entry, answer);
      });
    }).catch(function (err) {
      if (!(err instanceof Retry)) { throw err; }
      entry.state = "waiting";
      entry.attempts = (entry.attempts || 0) + 1;
      var wait = Math.min(BACKOFF_MAX, 5000 * Math.pow(2, entry.attempts - 1));
      entry.next = Date.now() + wait * (0.75 + Math.random() * 0.5);
      entry.error = err.message;
      return put(entry).then(function () { throw err; });
    });
  }

  function sent(entry) {
    try {
      var prefix = "ld-draft:" + entry.user + ":" + entry.taskId + ":";
      for (var i = localStorage.length - 1; i >= 0; i--) {
        var k = localStorage.key(i);
        if (k && k.indexOf(prefix) === 0) { localStorage.removeItem(k); }
      }
    } catch (e) { /* storage disabled */ }
    leaveSentForm(entry.key);
    // the form may be open in another tab, which left this round to the lock's holder: it moves on too
    if (channel) { channel.postMessage({ sent: entry.key }); }
  }

  // The page whose form this entry came from goes to the inbox once the entry is sent, by this tab or another.
  function leaveSentForm(key) {
    var form = document.querySelector("form[data-outbox][data-outbox-key]");
    if (form && form.getAttribute("data-outbox-key") === key) {
      location.assign(indicator().getAttribute("data-inbox-url"));
    }
  }

  // Send what is due, oldest first, one at a time; stop at the first network failure (the rest would fail too).
  // One sender at a time across the user's open tabs (Web Locks; a tab that finds it taken leaves the round
  // to the holder). Without the API two tabs may both send an entry: the server's idempotency key keeps it once.
  function exclusively(fn) {
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request(dbName(), { ifAvailable: true }, function (lock) { return lock ? fn() : null; });
    }
    return fn();
  }

  function get(key) {
    return withStore("readonly", function (store) { return store.get(key); });
  }

  function flush(force) {
    if (flushing || !userId || !navigator.onLine) { return Promise.resolve(); }
    flushing = true;
    return exclusively(function () { return flushRound(force); })
      .catch(function () { /* kept for the next signal, page load or timer */ })
      .then(function () { flushing = false; render(); schedule(); });
  }

  function flushRound(force) {
    return all().then(function (entries) {
      var due = entries.filter(function (e) {
        return e.user === userId && (e.state === "waiting" || e.state === "sending") && (force || !e.next || e.next <= Date.now());
      });
      if (!due.length) { return null; }
      return session().then(function (who) {
        if (String(who.user_id) !== String(userId)) { throw new Retry("another user"); }
        return due.reduce(function (chain, due) {
          return chain.then(function () {
            render();
            // read again: another tab may have sent it, or the worker discarded it, since this round began
            return get(due.key).then(function (entry) {
              if (!entry || (entry.state !== "waiting" && entry.state !== "sending")) { return null; }
              return sendEntry(entry, who.csrf_token);
            });
          });
        }, Promise.resolve());
      });
    });
  }

  function schedule() {
    clearTimeout(retryTimer);
    all().then(function (entries) {
      var next = entries.filter(function (e) { return e.state === "waiting"; })
        .map(function (e) { return e.next || 0; }).sort(function (a, b) { return a - b; })[0];
      if (next !== undefined) { retryTimer = setTimeout(flush, Math.max(1000, next - Date.now())); }
    });
  }

  // --- showing ----------------------------------------------------------------------------------------

  function render() {
    return all().then(function (entries) {
      entries = entries.filter(function (e) { return e.user === userId; });
      var el = indicator();
      if (el) {
        var waiting = entries.filter(function (e) { return e.state === "waiting" || e.state === "sending"; }).length;
        var attention = entries.length - waiting;
        el.hidden = entries.length === 0;
        el.textContent = attention ? msg("attention", attention) : msg("waiting", waiting);
        el.classList.toggle("attention", attention > 0);
        el.setAttribute("data-count", String(entries.length));
      }
      var list = document.getElementById("outbox-list");
      if (list) { drawList(list, entries); }
    });
  }

  function text(tag, content, cls) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    el.textContent = content;
    return el;
  }

  function button(label, onClick, cls) {
    var b = text("button", label, cls);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function fact(dl, label, value) { dl.appendChild(text("dt", label)); dl.appendChild(text("dd", value)); }

  function drawList(list, entries) {
    var d = function (name) { return list.getAttribute("data-" + name) || ""; };
    list.textContent = "";
    if (!entries.length) { list.appendChild(text("p", d("empty"), "muted")); return; }
    entries.forEach(function (entry) {
      var card = document.createElement("section");
      card.className = "card outbox-entry state-" + entry.state;
      card.setAttribute("data-key", entry.key);
      card.appendChild(text("h2", entry.step + " · " + entry.caseNumber));
      card.appendChild(text("p", d("state-" + entry.state), "outbox-state"));
      var dl = document.createElement("dl");
      dl.className = "facts";
      fact(dl, d("label-saved"), new Date(entry.created).toLocaleString());
      fact(dl, d("label-photos"), String(entry.photos.length));
      if (entry.attempts) { fact(dl, d("label-tries"), String(entry.attempts)); }
      card.appendChild(dl);
      if (entry.state === "refused" && entry.error) { card.appendChild(text("p", entry.error, "field-error")); }
      if (entry.state === "conflict" && entry.conflict) { card.appendChild(conflictView(list, entry)); }
      var actions = document.createElement("div");
      actions.className = "actions";
      if (entry.state === "waiting") {
        actions.appendChild(button(d("action-send"), function () {
          entry.next = 0; put(entry).then(function () { flush(true); });
        }));
      }
      if (entry.state === "conflict") {
        actions.appendChild(button(d("action-comment"), function () { keepAsComment(list, entry); }, "primary"));
      }
      if (entry.state === "refused") {
        actions.appendChild(button(d("action-open"), function () { reopen(entry); }, "primary"));
      }
      if (entry.state !== "sending") {
        actions.appendChild(button(d("action-discard"), function () {
          if (window.confirm(d("confirm-discard"))) { remove(entry.key).then(render); }
        }, "link danger"));
      }
      card.appendChild(actions);
      list.appendChild(card);
    });
  }

  function conflictView(list, entry) {
    var d = function (name) { return list.getAttribute("data-" + name) || ""; };
    var c = entry.conflict;
    var box = document.createElement("div");
    box.className = "conflict";
    box.appendChild(text("p", c.explanation || ""));
    var wrap = document.createElement("div");
    wrap.className = "scroll-x";
    var table = document.createElement("table");
    table.className = "list side-by-side";
    var head = document.createElement("tr");
    [d("label-field"), d("label-yours").replace("{v}", c.sent.task_version),
     d("label-now").replace("{v}", c.current.task_version)].forEach(function (h) { head.appendChild(text("th", h)); });
    var thead = document.createElement("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    var tbody = document.createElement("tbody");
    (c.fields || []).forEach(function (f) {
      var tr = document.createElement("tr");
      [[d("label-field"), f.label], [d("label-yours").replace("{v}", c.sent.task_version), f.sent || "—"],
       [d("label-now").replace("{v}", c.current.task_version), f.current || "—"]].forEach(function (cell) {
        var td = text("td", cell[1]);
        td.setAttribute("data-label", cell[0]);
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    wrap.appendChild(table);
    box.appendChild(wrap);
    return box;
  }

  function commentText(list, entry) {
    var c = entry.conflict;
    var lines = [(list.getAttribute("data-comment-head") || "").replace("{v}", c.sent.task_version)];
    (c.fields || []).forEach(function (f) { if (f.sent) { lines.push(f.label + ": " + f.sent); } });
    return lines.join("\n").slice(0, 4000);
  }

  function keepAsComment(list, entry) {
    session().then(function (who) {
      var body = new FormData();
      body.append("body", commentText(list, entry));
      return fetch(entry.commentUrl, {
        method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": who.csrf_token } });
    }).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return remove(entry.key);
    }).then(function () {
      say(list.getAttribute("data-kept"));
      return render();
    }).catch(function () { /* offline: the entry stays; try again later */ });
  }

  // A refused entry (the form's values no longer pass, say): put them back as the step's draft and open it.
  function reopen(entry) {
    var fields = {};
    entry.fields.forEach(function (pair) {
      if (pair[0] === "task_version") { return; }
      fields[pair[0]] = pair[0] in fields ? [].concat(fields[pair[0]], pair[1]) : pair[1];
    });
    try {
      localStorage.setItem(entry.draftKey,
                           JSON.stringify({ fields: fields, saved_at: new Date().toISOString() }));
    } catch (e) { /* storage disabled */ }
    remove(entry.key).then(function () { location.assign(entry.action.replace(/\/complete$/, "")); });
  }

  // --- wiring -----------------------------------------------------------------------------------------

  // Sign-out: warn when something is still waiting, then delete this user's queue (with the server's
  // Clear-Site-Data on https); nothing of one user's stays for the next one on a shared phone.
  document.addEventListener("submit", function (event) {
    if (!event.target.matches("form[data-logout]") || !userId) { return; }
    var el = indicator();
    var count = el ? Number(el.getAttribute("data-count") || "0") : 0;
    if (count > 0 && !window.confirm(msg("logout"))) { event.preventDefault(); event.stopImmediatePropagation(); return; }
    try { indexedDB.deleteDatabase(dbName()); } catch (e) { /* nothing kept */ }
  }, true);

  window.addEventListener("online", function () { flush(true); });
  if (channel) {
    channel.onmessage = function (event) {
      if (event.data && event.data.sent) { leaveSentForm(event.data.sent); }
      render();
    };
  }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "ld-outbox-flush") { flush(true); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    render().then(function () { flush(); });
  });

  window.ldOutbox = { take: take, wants: wants, flush: flush, render: render };
})();
