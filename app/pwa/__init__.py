"""The installable app: web app manifest, service worker and offline page (docs/web.md, "Offline use")."""
