/* The field worker's outbox: every write a staff page makes goes through here. An item
   (an action, a note, a check-in, a patrol visit, with its photos as Blobs) is stored in
   IndexedDB (idb, from npm) with its own Idempotency-Key before anything is sent, so what
   a person typed or photographed survives a lost signal, a closed tab or a dead battery.
   Items are sent in the order they were made; the same key on a resend makes the server
   hold each one once. A 409 (a manager changed the report meanwhile) marks the item a
   conflict and holds back that report's later items; nothing is dropped until the person
   says so. Also registers the service worker that keeps opened work readable offline. */
"use strict";
window.gg.queue = (function () {
  var t = window.gg.t;
  var DB_NAME = "gridgov-outbox";
  var STORE = "items";
  var listeners = [];
  var flushing = null;
  var dbPromise = null;

  function db() {
    if (!dbPromise) {
      dbPromise = idb.openDB(DB_NAME, 1, {
        upgrade: function (database) {
          database.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
        }
      });
    }
    return dbPromise;
  }

  /* The signed-in person's items, oldest first (another person's wait for them). */
  function all() {
    var me = window.gg.staff.userId();
    return db().then(function (d) { return d.getAll(STORE); })
      .then(function (items) { return items.filter(function (i) { return i.user === me; }); });
  }

  function notify() {
    return all().then(function (items) {
      var summary = {
        online: navigator.onLine,
        waiting: items.filter(function (i) { return i.state === "waiting"; }).length,
        problems: items.filter(function (i) { return i.state !== "waiting"; }).length,
        items: items
      };
      listeners.forEach(function (f) { f(summary); });
      return summary;
    });
  }

  /* Call `f(summary)` now and whenever the queue or the network changes. */
  function onChange(f) { listeners.push(f); notify(); }

  function body(item) {
    if (item.json !== undefined && item.json !== null) { return { json: item.json }; }
    var form = new FormData();
    Object.keys(item.fields || {}).forEach(function (name) {
      var value = item.fields[name];
      if (value !== null && value !== undefined && value !== "") { form.append(name, value); }
    });
    (item.files || []).forEach(function (f) { form.append(f.field, f.blob, f.name); });
    return { form: form };
  }

  /* Send one stored item; its outcome: sent (removed), conflict or failed (kept, with
     the server's answer), or offline (kept waiting). */
  function send(item) {
    var options = body(item);
    options.key = item.key;
    return window.gg.staff.api(item.method, item.url, options).then(function (res) {
      if (res.ok) {
        return db().then(function (d) { return d.delete(STORE, item.seq); })
          .then(function () { return { state: "sent", status: res.status, body: res.body }; });
      }
      if (res.status === 401) { return { state: "offline", status: 401 }; }  // sign in again
      item.state = res.status === 409 ? "conflict" : "failed";
      item.status = res.status;
      item.error = window.gg.errorText(res.body) || String(res.status);
      return db().then(function (d) { return d.put(STORE, item); })
        .then(function () { return { state: item.state, status: res.status, body: res.body }; });
    }, function () { return { state: "offline" }; });
  }

  /* Send what waits, oldest first; a report with a conflict or failure holds back its
     later items (they depend on it). Resolves to {seq: outcome} of what was tried. */
  function flush() {
    if (flushing) { return flushing; }
    var outcomes = {};
    flushing = all().then(function (items) {
      var held = {};
      items.forEach(function (i) { if (i.state !== "waiting" && i.number) { held[i.number] = true; } });
      var chain = Promise.resolve(false);
      items.forEach(function (item) {
        chain = chain.then(function (stop) {
          if (stop || item.state !== "waiting" ||
              (item.number && held[item.number])) { return stop; }
          return send(item).then(function (outcome) {
            outcomes[item.seq] = outcome;
            if (outcome.state === "offline") { return true; }
            if (outcome.state !== "sent" && item.number) { held[item.number] = true; }
            return false;
          });
        });
      });
      return chain;
    }).then(function () { flushing = null; notify(); return outcomes; },
            function (err) { flushing = null; throw err; });
    return flushing;
  }

  /* Store an item, then try to send everything waiting. Resolves to this item's outcome:
     {state: "sent"|"conflict"|"failed", status, body} or {state: "queued"}. */
  function submit(item) {
    var stored = {
      key: window.gg.staff.newKey(), user: window.gg.staff.userId(), label: item.label, number: item.number || null,
      method: item.method || "POST", url: item.url, json: item.json === undefined ? null : item.json,
      fields: item.fields || null, files: item.files || [], stage: item.stage || null,
      state: "waiting",
      createdAt: new Date().toISOString()
    };
    return db().then(function (d) { return d.add(STORE, stored); }).then(function (seq) {
      notify();
      if (!navigator.onLine) { return { state: "queued" }; }
      return flush().then(function (outcomes) {
        var outcome = outcomes[seq];
        return outcome && outcome.state !== "offline" ? outcome : { state: "queued" };
      });
    });
  }

  /* Send a held item again as it is (after the person looked at the conflict). */
  function retry(seq) {
    return db().then(function (d) {
      return d.get(STORE, seq).then(function (item) {
        if (!item) { return null; }
        item.state = "waiting";
        // A stale version was the conflict: the person chose to act on the report as it
        // is now, so the server checks the state machine instead of the old version.
        if (item.status === 409 && item.json && item.json.version) { delete item.json.version; }
        if (item.status === 409 && item.fields && item.fields.version) { delete item.fields.version; }
        return d.put(STORE, item);
      });
    }).then(flush);
  }

  /* Remove an item the person gave up on (their text is offered to copy first). */
  function discard(seq) {
    return db().then(function (d) { return d.delete(STORE, seq); }).then(notify);
  }

  /* The items still here for one report (to show them on its page). */
  function forReport(number) {
    return all().then(function (items) {
      return items.filter(function (i) { return i.number === number; });
    });
  }

  /* An online / offline / "n waiting" indicator kept current in `el`. */
  function indicator(el) {
    onChange(function (s) {
      var parts = [s.online ? t.q_online : t.q_offline];
      if (s.waiting) { parts.push(window.gg.format(t.q_waiting, { n: s.waiting })); }
      if (s.problems) { parts.push(window.gg.format(t.q_problems, { n: s.problems })); }
      el.textContent = parts.join(" · ");
      el.className = "queue-status " + (s.online ? "is-online" : "is-offline") +
        (s.waiting || s.problems ? " has-waiting" : "");
      el.dataset.waiting = String(s.waiting);
      el.dataset.problems = String(s.problems);
    });
  }

  window.addEventListener("online", function () { notify(); flush(); });
  window.addEventListener("offline", notify);
  // A signed-in page opened later sends what an earlier one left waiting.
  if (navigator.onLine && window.gg.staff.token()) { flush(); }

  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/sw.js?v=" + encodeURIComponent(window.gg.config.assetsVersion), { scope: "/" }).catch(function () {});
  }

  return { submit: submit, flush: flush, retry: retry, discard: discard,
           forReport: forReport, onChange: onChange, indicator: indicator };
})();
