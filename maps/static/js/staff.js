/* The staff session, shared by every staff page and tab of this browser: the bearer
   token lives in localStorage with its expiry (sign in once per browser, not per tab;
   an expired token is dropped before it is sent), and gg.staff.api() sends the caller's
   requests with it. Signing out in one tab signs out the others (the storage event). */
"use strict";
window.gg.staff = (function () {
  var config = window.gg.config;
  var t = window.gg.t;
  var TOKEN_KEY = "gridgov.staff.token";
  var EXPIRES_KEY = "gridgov.staff.expires";
  var signedOutHandlers = [];

  function token() {
    var expires = Number(localStorage.getItem(EXPIRES_KEY) || 0);
    if (!expires || Date.now() >= expires) { clear(); return null; }
    return localStorage.getItem(TOKEN_KEY);
  }

  function clear() {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(EXPIRES_KEY);
  }

  function keep(body) {
    localStorage.setItem(TOKEN_KEY, body.access_token);
    // A minute early, so a request is never sent with a token about to lapse.
    localStorage.setItem(EXPIRES_KEY, String(Date.now() + (body.expires_in - 60) * 1000));
  }

  /* The signed-in account's id (the token's subject), to keep one person's queued work
     from being sent as another's on a shared phone; null when signed out. */
  function userId() {
    var current = token();
    if (!current) { return null; }
    try {
      var part = current.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part)).sub || null;
    } catch (e) { return null; }
  }

  function signOut() {
    clear();
    // What this person read stays on the phone no longer than their session.
    if (window.caches) { caches.delete("gridgov-api").catch(function () {}); }
    Object.keys(localStorage).forEach(function (k) {
      if (k.indexOf("gridgov.data.") === 0) { localStorage.removeItem(k); }
    });
    signedOutHandlers.forEach(function (f) { f(); });
  }

  /* Run `f` whenever this browser's staff session ends (here or in another tab). */
  function onSignedOut(f) { signedOutHandlers.push(f); }

  window.addEventListener("storage", function (e) {
    if (e.key === TOKEN_KEY && !e.newValue) { signedOutHandlers.forEach(function (f) { f(); }); }
  });

  /* A request as the signed-in caller. `options`: json (a body sent as JSON), form
     (a FormData), key (an Idempotency-Key), anonymous (send no token: a public request
     from a page that may be signed in). Resolves to {ok, status, body}; rejects only
     when the network fails. A 401 ends the session. */
  function api(method, url, options) {
    options = options || {};
    var headers = { "Accept": "application/json", "Accept-Language": config.lang };
    var current = options.anonymous ? null : token();
    if (current) { headers.Authorization = "Bearer " + current; }
    if (options.key) { headers["Idempotency-Key"] = options.key; }
    var body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.form) {
      body = options.form;
    }
    return fetch(url, { method: method, headers: headers, body: body })
      .then(function (r) {
        return r.text().then(function (text) {
          var parsed = null;
          try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = { raw: text }; }
          if (r.status === 401) { signOut(); }
          return { ok: r.ok, status: r.status, body: parsed };
        });
      });
  }

  function get(url) { return api("GET", url); }

  /* Whether the signed-in account is a resident's (who follows reports as themselves);
     false when signed out, for staff, or when it cannot be told. */
  function isResident() {
    if (!token()) { return Promise.resolve(false); }
    return get("/auth/me").then(function (me) {
      return me.ok && me.body.role === "resident";
    }, function () { return false; });
  }

  /* A staff-only image (an original photo) as an object URL: <img src> cannot send the
     bearer token, so it is fetched here. Resolves to null when it cannot be had. */
  function blobUrl(url) {
    var current = token();
    return fetch(url, { headers: current ? { "Authorization": "Bearer " + current } : {} })
      .then(function (r) { return r.ok ? r.blob() : null; })
      .then(function (b) { return b ? URL.createObjectURL(b) : null; }, function () { return null; });
  }

  /* Wire a sign-in form (the _signin.html include): on success the token is kept and
     `then` runs; a failure is shown in `errorEl`. */
  function wireSignIn(form, errorEl, then) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      errorEl.textContent = "";
      fetch("/auth/token", { method: "POST", body: new URLSearchParams(new FormData(form)),
                             headers: { "Accept": "application/json",
                                        "Accept-Language": config.lang } })
        .then(function (r) {
          return r.json().then(function (body) {
            if (!r.ok) { errorEl.textContent = t.login_failed + window.gg.errorText(body); return; }
            keep(body);
            form.querySelector("input[type=password]").value = "";
            then();
          });
        }, function () { errorEl.textContent = t.network; });
    });
  }

  /* A random Idempotency-Key for one action (kept with it when it is queued). */
  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  return { token: token, signOut: signOut, onSignedOut: onSignedOut, api: api, get: get, blobUrl: blobUrl, userId: userId,
           isResident: isResident, wireSignIn: wireSignIn, newKey: newKey };
})();
