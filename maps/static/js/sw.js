/* gridgov's service worker (served at /sw.js, scope /): keeps the staff pages and the
   work a person has opened readable without a network. Built on Workbox's runtime
   libraries from npm, served by gridgov itself (never a CDN). Writes are never cached or
   replayed here: the page's outbox (queue.js) owns them, with their Idempotency-Keys.
   The registration URL carries the assets' version (?v=), so a new release replaces the
   worker and its caches. */
/* global workbox, importScripts */
"use strict";
var VERSION = new URL(self.location.href).searchParams.get("v") || "dev";
var VENDOR = "/static/vendor/";
importScripts(VENDOR + "workbox-sw/build/workbox-sw.js?v=" + VERSION);
workbox.setConfig({
  debug: false,
  modulePathCb: function (name) { return VENDOR + name + "/build/" + name + ".prod.js?v=" + VERSION; }
});
workbox.loadModule("workbox-core");
workbox.loadModule("workbox-routing");
workbox.loadModule("workbox-strategies");
workbox.loadModule("workbox-expiration");

var CACHES = {
  pages: "gridgov-pages-" + VERSION,
  assets: "gridgov-assets-" + VERSION,
  api: "gridgov-api",  // what the signed-in person read; emptied when they sign out
  tiles: "gridgov-tiles"
};

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) {
  var keep = Object.keys(CACHES).map(function (k) { return CACHES[k]; });
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) {
      return n.indexOf("gridgov-") === 0 && keep.indexOf(n) < 0;
    }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

var routing = workbox.routing;
var strategies = workbox.strategies;
var TIMEOUT = 4;  // seconds on a bad signal before the copy on the phone is shown

/* Staff pages: the network first, the last copy offline. A report's page never opened
   on this phone is answered by another report's page (the shell is the same; its script
   reads the number from the address) so the queued work of any report can be shown. */
var STAFF_PAGE = /^\/(case\/[^/]+|worker|desk)$/;
routing.registerRoute(
  function (ctx) { return ctx.request.mode === "navigate" && STAFF_PAGE.test(ctx.url.pathname); },
  new strategies.NetworkFirst({
    cacheName: CACHES.pages, networkTimeoutSeconds: TIMEOUT,
    plugins: [{
      handlerDidError: function (args) {
        if (args.request.url.indexOf("/case/") < 0) { return undefined; }
        return caches.open(CACHES.pages).then(function (cache) {
          return cache.keys().then(function (keys) {
            var other = keys.filter(function (k) { return k.url.indexOf("/case/") >= 0; })[0];
            return other ? cache.match(other) : undefined;
          });
        });
      }
    }]
  })
);

// Scripts and stylesheets: versioned URLs, so the cached copy is the right one.
routing.registerRoute(
  function (ctx) { return ctx.url.origin === self.location.origin && ctx.url.pathname.indexOf("/static/") === 0; },
  new strategies.CacheFirst({ cacheName: CACHES.assets })
);

// What staff read: the work list, a report, its photos, the patrol list, who I am.
var STAFF_READS = /^\/(incidents(\/[^/]+(\/photos\/\d+)?)?|patrol|auth\/me|categories|inbox)$/;
routing.registerRoute(
  function (ctx) { return ctx.url.origin === self.location.origin && STAFF_READS.test(ctx.url.pathname); },
  new strategies.NetworkFirst({ cacheName: CACHES.api, networkTimeoutSeconds: TIMEOUT }),
  "GET"
);

// Map tiles: what was seen lately, refreshed in the background.
routing.registerRoute(
  function (ctx) { return ctx.url.origin === self.location.origin && ctx.url.pathname.indexOf("/tiles/") === 0; },
  new strategies.StaleWhileRevalidate({
    cacheName: CACHES.tiles,
    plugins: [new workbox.expiration.ExpirationPlugin({ maxEntries: 2000, maxAgeSeconds: 7 * 86400 })]
  })
);

// A page asks to forget what the last person read (sign-out).
self.addEventListener("message", function (event) {
  if (event.data && event.data.type === "sign-out") {
    event.waitUntil(caches.delete(CACHES.api));
  }
});
