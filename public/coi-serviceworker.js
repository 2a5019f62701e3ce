/*
 * Cross-origin isolation for static hosts that cannot send headers (GitHub Pages and the like).
 *
 * The WebAssembly backend runs threads only in a cross-origin isolated page (it needs SharedArrayBuffer), and a
 * page is isolated only when its document arrives with COOP `same-origin` and COEP `require-corp`. Our servers
 * (vite dev and preview, vite.config.ts) send them. Elsewhere this file adds them, in two roles:
 *
 * - In the page (index.html loads it as a classic script, before the app): when the page is not isolated and
 *   service workers are available (a secure context: https or localhost), it registers this same file as the
 *   service worker and reloads the page once that worker controls it. It does nothing in an isolated page, and
 *   reloads at most once per tab session, so a browser that refuses isolation still gets the app, threadless.
 * - As the service worker: it answers the site's own requests from the network, unchanged except for the two
 *   headers (and CORP same-origin, which require-corp asks of every subresource). The app loads nothing from
 *   other origins (its Content-Security-Policy forbids it), so those requests are left alone. Nothing is cached.
 */
/* global self, window, document, navigator, location, sessionStorage, Headers, Response, fetch */
'use strict';

var ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

if (typeof window === 'undefined') {
  // The service worker.
  self.addEventListener('install', function () {
    self.skipWaiting();
  });
  self.addEventListener('activate', function (event) {
    event.waitUntil(self.clients.claim());
  });
  self.addEventListener('fetch', function (event) {
    var request = event.request;
    if (new URL(request.url).origin !== self.location.origin) return;
    // A cache-only request must be same-origin mode or fetch() rejects it (a DevTools quirk); let it pass.
    if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
    event.respondWith(
      fetch(request).then(function (response) {
        if (response.type === 'opaque' || response.type === 'opaqueredirect') return response;
        var headers = new Headers(response.headers);
        Object.keys(ISOLATION_HEADERS).forEach(function (name) {
          headers.set(name, ISOLATION_HEADERS[name]);
        });
        return new Response(response.body, { status: response.status, statusText: response.statusText, headers: headers });
      }),
    );
  });
} else {
  // The page.
  (function () {
    var RELOADED = 'coi-serviceworker:reloaded';
    if (window.crossOriginIsolated || !window.isSecureContext || !('serviceWorker' in navigator)) return;
    var reloadOnce = function () {
      if (sessionStorage.getItem(RELOADED)) return;
      sessionStorage.setItem(RELOADED, '1');
      location.reload();
    };
    navigator.serviceWorker.register(document.currentScript.src).then(
      function () {
        // Controlled already (a later visit) but not isolated: this document came before the worker; reload.
        if (navigator.serviceWorker.controller) reloadOnce();
        else navigator.serviceWorker.addEventListener('controllerchange', reloadOnce);
      },
      function (error) {
        console.warn('coi-serviceworker: registration failed, the WebAssembly backend runs without threads:', error);
      },
    );
  })();
}
