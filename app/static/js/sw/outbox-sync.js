// Background sync for the offline submission queue (static/js/outbox.js, issue 14 part 3): when Chromium
// fires the "ld-outbox" sync (the signal is back), the open pages of the app are asked to send their queue.
// The queue lives in the page's IndexedDB with the signed-in user's session; the worker only wakes them.
self.addEventListener("sync", function (event) {
  if (event.tag !== "ld-outbox") { return; }
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (pages) {
    pages.forEach(function (page) { page.postMessage({ type: "ld-outbox-flush" }); });
  }));
});
