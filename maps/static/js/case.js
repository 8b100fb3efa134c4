/* One report's staff page (/case/{number}), the same for the worker and the manager:
   the report (GET /incidents/{number}), the distance from me, a link to the phone's map
   app, the photos (before / after), the history, and only the actions this caller may
   take now. Every write goes through the outbox (gg.queue): offline it waits on the
   phone and the page shows the state it will lead to; a conflict found on replay is
   shown with the person's own note and photos, which are never dropped unasked. */
"use strict";
(function () {
  var t = gg.t;
  var config = gg.config;
  // The number comes from the address, so the page shell cached for one report serves
  // another offline (sw.js).
  var number = decodeURIComponent(location.pathname.split("/")[2] || config.number);
  var loginForm = document.getElementById("login");
  var loginError = document.getElementById("login-error");
  var section = document.getElementById("case");
  var message = document.getElementById("case-message");
  var form = document.getElementById("action-form");
  var buttons = document.getElementById("action-buttons");
  var me = null;        // GET /auth/me
  var report = null;    // GET /incidents/{number}, plus what waits in the outbox
  var position = null;  // {lon, lat} from the device
  var map = null;
  var photoUrls = [];
  var EN = config.lang === "en";
  // Copies kept on the phone for offline reading; "gridgov.data." keys are removed at
  // sign-out (staff.js), so one person's reports do not stay for the next.
  var STORE_KEY = "gridgov.data.case.";


  function say(text, kind) {
    message.textContent = text;
    message.className = "case-message" + (kind ? " is-" + kind : "");
  }

  function when(iso) { return gg.dateTime(iso) || "—"; }

  function span(ms) {
    var minutes = Math.round(Math.abs(ms) / 60000);
    if (minutes < 60) { return gg.format(t.case_minutes, { m: minutes }); }
    var hours = Math.floor(minutes / 60);
    if (hours < 48) { return gg.format(t.case_hours, { h: hours }); }
    return gg.format(t.case_days, { d: Math.floor(hours / 24), h: hours % 24 });
  }

  function distanceText(m) { return m < 1000 ? Math.round(m) + " m" : (m / 1000).toFixed(1) + " km"; }

  function isManager() { return !!me && config.managerRoles.indexOf(me.role) >= 0; }
  function isAssignee() { return !!me && !!report && report.assignee === me.username; }

  /* The state-machine actions this caller may take in the report's (possibly pending)
     state: the server's list while nothing waits, else the same rule applied here. */
  function machineActions() {
    if (!report.pending.length) { return report.allowed_actions || []; }
    return Object.keys(config.actions).filter(function (name) {
      var a = config.actions[name];
      if (a.sources.indexOf(report.status) < 0) { return false; }
      if (a.actor === "assignee") { return isAssignee(); }
      if (a.actor === "manager") { return isManager(); }
      return isAssignee() || isManager();
    });
  }

  function open() { return config.openStatuses.indexOf(report.status) >= 0; }

  /* Every button this caller has now, in the order of the work. */
  function actionList() {
    var list = machineActions().slice();
    var extra = [];
    if (isAssignee() && config.checkInStatuses.indexOf(report.status) >= 0) { extra.push("checkin"); }
    if (isAssignee() && open()) { extra.push("extension"); }
    // Progress notes while the work is open (the assignee) or not yet closed (managers).
    if ((isAssignee() && open()) || (isManager() && report.status !== "closed")) { extra.push("note"); }
    var order = ["accept", "checkin", "start", "resolve", "extension", "transfer", "note",
                 "close", "reopen", "assign", "reject", "mark_duplicate", "refer_emergency"];
    list = list.concat(extra);
    return order.filter(function (name) { return list.indexOf(name) >= 0; });
  }

  function label(name) { return t["case_action_" + name] || name; }

  /* ---- drawing -------------------------------------------------------------------- */

  function dueText() {
    var awaiting = report.status === "assigned" || report.status === "reopened";
    var due = awaiting ? report.accept_due_at : report.resolve_due_at;
    if (!due || !open()) { return ""; }
    var left = new Date(due) - Date.now();
    var what = awaiting ? t.case_due_accept : t.case_due_resolve;
    return what + " " + when(due) + " · " +
      gg.format(left >= 0 ? t.case_left : t.case_over, { t: span(left) });
  }

  function drawFacts() {
    var category = EN ? report.category_label_en : report.category_label_zh;
    document.getElementById("case-heading").textContent = (category || report.category_code) + " · " + number;
    var status = document.getElementById("case-status");
    status.textContent = gg.statusLabel(report.status) +
      (report.pending.length ? " (" + t.case_pending + ")" : "");
    status.dataset.status = report.status;
    var due = document.getElementById("case-due");
    due.textContent = dueText();
    due.className = due.textContent && new Date(report.status === "assigned" ? report.accept_due_at : report.resolve_due_at) < Date.now() ? "overdue-flag" : "";
    document.getElementById("case-address").textContent = report.address || t.case_no_address;
    document.getElementById("case-cell").textContent = report.cell_code || "—";
    document.getElementById("case-assignee").textContent =
      report.assignee ? (report.assignee_name || report.assignee) + " (" + report.assignee + ")" : t.case_unassigned;
    document.getElementById("case-channel").textContent = t["case_ch_" + report.channel] || report.channel;
    document.getElementById("case-created").textContent = when(report.created_at);
    var description = document.getElementById("case-description");
    description.textContent = report.description || t.case_no_description;
    var answers = document.getElementById("case-answers");
    answers.textContent = "";
    Object.keys(report.answers || {}).forEach(function (k) {
      answers.appendChild(gg.el("dt", {}, k));
      answers.appendChild(gg.el("dd", {}, String(report.answers[k])));
    });
    var contact = document.getElementById("case-contact");
    contact.textContent = "";
    var c = report.reporter_contact;
    if (c && (c.name || c.phone)) {
      contact.appendChild(document.createTextNode((c.name || "") + " "));
      if (c.phone) {
        var call = gg.el("a", { href: "tel:" + c.phone, "class": "button-link" }, t.case_call + " " + c.phone);
        contact.appendChild(call);
      }
    } else if (c) {
      contact.textContent = t.case_contact_none;
    } else {
      contact.parentNode && (contact.previousElementSibling.hidden = true);
      contact.hidden = true;
    }
    drawNavigate();
    drawDistance();
  }

  function drawNavigate() {
    var link = document.getElementById("case-navigate");
    if (report.lat === null || report.lat === undefined) { link.hidden = true; return; }
    var name = report.address || number;
    link.href = config.mapAppUrl
      ? gg.format(config.mapAppUrl, { lat: report.lat, lon: report.lon, name: encodeURIComponent(name) })
      : "geo:" + report.lat + "," + report.lon + "?q=" + report.lat + "," + report.lon +
        "(" + encodeURIComponent(name) + ")";
  }

  function drawDistance() {
    var cell = document.getElementById("case-distance");
    if (!position || report.lat === null || report.lat === undefined) {
      cell.textContent = t.case_distance_unknown;
      return;
    }
    var m = gg.metres(position, { lon: report.lon, lat: report.lat });
    cell.textContent = distanceText(m);
    cell.dataset.metres = String(Math.round(m));
  }

  function drawPhotos() {
    photoUrls.forEach(function (u) { URL.revokeObjectURL(u); });
    photoUrls = [];
    var list = document.getElementById("case-photos");
    list.textContent = "";
    var photos = report.photos || [];
    var pendingPhotos = [];
    report.pending.forEach(function (item) {
      (item.files || []).forEach(function (f) { pendingPhotos.push({ blob: f.blob, stage: item.stage }); });
    });
    if (!photos.length && !pendingPhotos.length) {
      list.appendChild(gg.el("li", { "class": "hint" }, t.case_no_photos));
      return;
    }
    photos.forEach(function (p) {
      var li = gg.el("li", { "class": "case-photo stage-" + p.stage });
      var caption = (p.stage === "after" ? t.case_photo_after : t.case_photo_before) +
        (p.published ? " · " + t.case_photo_published : "");
      var img = gg.el("img", { alt: caption + " " + p.id, width: "160", height: "120", loading: "lazy" });
      li.appendChild(img);
      li.appendChild(gg.el("span", { "class": "photo-stage" }, caption));
      list.appendChild(li);
      gg.staff.blobUrl(p.url + "?copy=thumbnail").then(function (u) {
        if (u) { photoUrls.push(u); img.src = u; }
      });
    });
    pendingPhotos.forEach(function (p, i) {
      var u = URL.createObjectURL(p.blob);
      photoUrls.push(u);
      var caption = (p.stage === "after" ? t.case_photo_after : t.case_photo_before) + " · " + t.case_pending;
      var li = gg.el("li", { "class": "case-photo is-pending" });
      li.appendChild(gg.el("img", { alt: caption + " " + (i + 1), src: u, width: "160", height: "120" }));
      li.appendChild(gg.el("span", { "class": "photo-stage" }, caption));
      list.appendChild(li);
    });
  }

  function drawTimeline() {
    var list = document.getElementById("case-timeline");
    list.textContent = "";
    (report.timeline || []).forEach(function (step) {
      var li = gg.el("li");
      var what = step.to && step.kind !== "check_in" ? gg.statusLabel(step.to)
        : t["case_kind_" + step.kind] || step.kind;
      var head = when(step.at) + " · " + what +
        (step.actor ? " · " + step.actor : "");
      li.appendChild(gg.el("strong", {}, head));
      if (step.note) { li.appendChild(gg.el("p", {}, step.note)); }
      list.appendChild(li);
    });
    report.pending.forEach(function (item) {
      var li = gg.el("li", { "class": "is-pending" });
      li.appendChild(gg.el("strong", {}, item.label + " · " + t.case_pending));
      var note = item.json ? item.json.note : item.fields && item.fields.note;
      if (note) { li.appendChild(gg.el("p", {}, note)); }
      list.appendChild(li);
    });
  }

  function drawActions() {
    buttons.textContent = "";
    var names = actionList();
    names.forEach(function (name) {
      var b = gg.el("button", { type: "button", "class": "action action-" + name, "data-action": name }, label(name));
      b.addEventListener("click", function () { choose(name); });
      buttons.appendChild(b);
    });
    document.getElementById("no-actions").hidden = names.length > 0;
  }

  function drawMap() {
    if (map || report.lat === null || report.lat === undefined) { return; }
    var box = document.getElementById("case-map");
    if (!gg.mapgl.supported()) { box.hidden = true; return; }
    var d = 0.002;
    map = gg.mapgl.make("case-map", { bounds: [report.lon - d, report.lat - d, report.lon + d, report.lat + d] });
    var colour = config.statusColours[report.status] || "#333";
    new maplibregl.Marker({ element: gg.mapgl.dot(t.case_map + " · " + gg.statusLabel(report.status), colour, null, "case-dot") })
      .setLngLat([report.lon, report.lat]).addTo(map);
  }

  function draw() {
    drawFacts();
    drawPhotos();
    drawTimeline();
    drawActions();
    drawProblems();
    drawMap();
    document.body.dataset.status = report.status;
  }

  /* ---- the outbox's items for this report ------------------------------------------ */

  function drawProblems() {
    var box = document.getElementById("case-problems");
    var list = document.getElementById("problems");
    list.textContent = "";
    var problems = report.problems || [];
    box.hidden = problems.length === 0;
    problems.forEach(function (item) {
      var li = gg.el("li", { "class": "problem" });
      li.appendChild(gg.el("p", { "class": "error" }, gg.format(t.case_conflict, { label: item.label, why: item.error })));
      var note = item.json ? item.json.note : item.fields && item.fields.note;
      if (note) {
        li.appendChild(gg.el("p", {}, t.case_your_note));
        li.appendChild(gg.el("blockquote", { "class": "kept-note" }, note));
      }
      (item.files || []).forEach(function (f, i) {
        var u = URL.createObjectURL(f.blob);
        photoUrls.push(u);
        li.appendChild(gg.el("img", { src: u, alt: t.case_photo_preview + " " + (i + 1), width: "120", height: "90", "class": "kept-photo" }));
      });
      var retry = gg.el("button", { type: "button", "class": "retry" }, t.case_retry);
      retry.addEventListener("click", function () { gg.queue.retry(item.seq).then(reload); });
      var discard = gg.el("button", { type: "button", "class": "discard secondary" }, t.case_discard);
      discard.addEventListener("click", function () {
        if (window.confirm(t.case_discard_confirm)) { gg.queue.discard(item.seq).then(reload); }
      });
      var fresh = gg.el("button", { type: "button", "class": "secondary" }, t.case_reload);
      fresh.addEventListener("click", reload);
      li.appendChild(retry);
      li.appendChild(fresh);
      li.appendChild(discard);
      list.appendChild(li);
    });
  }

  /* The report as it will be once what waits in the outbox is sent: the pending actions'
     target states (version + 1 each, as the server counts). */
  function withOutbox(items) {
    report.pending = items.filter(function (i) { return i.state === "waiting"; });
    report.problems = items.filter(function (i) { return i.state !== "waiting"; });
    report.pending.forEach(function (item) {
      var name = item.json ? item.json.action : item.fields && item.fields.action;
      var a = name && config.actions[name];
      if (a && a.sources.indexOf(report.status) >= 0) {
        report.status = a.target;
        report.version += 1;
      }
    });
  }

  /* ---- actions --------------------------------------------------------------------- */

  function field(id, labelText, input) {
    var wrap = gg.el("div", { "class": "field" });
    wrap.appendChild(gg.el("label", { "for": id }, labelText));
    input.id = id;
    input.name = id;
    wrap.appendChild(input);
    var err = gg.el("p", { "class": "error", id: id + "-error", role: "alert" });
    wrap.appendChild(err);
    input.setAttribute("aria-describedby", id + "-error");
    return wrap;
  }

  function textarea(required) {
    var a = gg.el("textarea", { rows: "3", maxlength: "2000" });
    if (required) { a.required = true; }
    return a;
  }

  function camera() {
    var input = gg.el("input", { type: "file", accept: (config.limits.photoTypes || ["image/jpeg"]).join(","), capture: "environment", multiple: "" });
    return input;
  }

  function closeForm() { form.hidden = true; form.textContent = ""; }

  function showError(id, text) {
    var err = document.getElementById(id + "-error");
    if (err) { err.textContent = text; }
    var input = document.getElementById(id);
    if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
  }

  function files(input, stage) {
    return Array.prototype.slice.call(input.files || []).map(function (f) {
      return { field: "photos", name: f.name || "photo.jpg", type: f.type, blob: f, stage: stage };
    });
  }

  /* What each action's form asks for; `send` gets the form's values. */
  var FORMS = {
    resolve: [["result", t.case_field_result, true], ["before", t.case_field_before], ["after", t.case_field_after]],
    transfer: [["reason", t.case_field_reason, true]],
    reopen: [["reason", t.case_field_reason, true]],
    reject: [["reason", t.case_field_reason, true]],
    refer_emergency: [["reason", t.case_field_reason, true]],
    note: [["note", t.case_field_note, true], ["photos", t.case_field_photos]],
    extension: [["until", t.case_field_until], ["reason", t.case_field_reason, true]],
    assign: [["assignee", t.case_field_assignee]],
    mark_duplicate: [["duplicate_of", t.case_field_duplicate_of]]
  };

  function choose(name) {
    if (name === "checkin") { checkIn(); return; }
    if (!FORMS[name]) { act(name, {}); return; }
    form.textContent = "";
    form.appendChild(gg.el("h3", {}, label(name)));
    FORMS[name].forEach(function (spec) {
      var id = "f-" + spec[0], input;
      if (spec[0] === "before" || spec[0] === "after" || spec[0] === "photos") {
        input = camera();
      } else if (spec[0] === "until") {
        input = gg.el("input", { type: "datetime-local" });
      } else if (spec[0] === "assignee" || spec[0] === "duplicate_of") {
        input = gg.el("input", { type: "text", autocomplete: "off" });
      } else {
        input = textarea(spec[2]);
      }
      form.appendChild(field(id, spec[1], input));
    });
    if (name === "note" && isManager()) {
      var wrap = gg.el("div", { "class": "field" });
      var box = gg.el("input", { type: "checkbox", id: "f-public" });
      var lab = gg.el("label", { "for": "f-public", "class": "inline" });
      lab.appendChild(box);
      lab.appendChild(document.createTextNode(" " + t.case_field_public));
      wrap.appendChild(lab);
      form.appendChild(wrap);
    }
    var submit = gg.el("button", { type: "submit", "class": "action-submit" }, t.case_submit + "：" + label(name));
    var cancel = gg.el("button", { type: "button", "class": "secondary" }, t.case_cancel);
    cancel.addEventListener("click", closeForm);
    form.appendChild(submit);
    form.appendChild(cancel);
    form.dataset.action = name;
    form.hidden = false;
    var first = form.querySelector("textarea, input");
    if (first) { first.focus(); }
  }

  function value(id) { var n = document.getElementById(id); return n ? n.value.trim() : ""; }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    form.querySelectorAll(".error").forEach(function (n) { n.textContent = ""; });
    var name = form.dataset.action;
    if (name === "resolve") {
      if (!value("f-result")) { showError("f-result", gg.format(t.case_need_note, { field: t.case_field_result })); return; }
      var after = files(document.getElementById("f-after"), "after");
      if (!after.length) { showError("f-after", t.case_need_after_photo); return; }
      var before = files(document.getElementById("f-before"), "before");
      var steps = Promise.resolve();
      // The photos before the work go first, as a progress note, so they are kept as
      // "before" even when the resolving step is refused.
      if (before.length) {
        steps = enqueue({ label: label("note") + " · " + t.case_photo_before, stage: "before",
                          url: "/incidents/" + encodeURIComponent(number) + "/notes",
                          fields: { note: t.case_photo_before }, files: before });
      }
      steps.then(function () {
        return act("resolve", { note: value("f-result") }, after);
      });
      return;
    }
    if (name === "note") {
      if (!value("f-note")) { showError("f-note", gg.format(t.case_need_note, { field: t.case_field_note })); return; }
      var pub = document.getElementById("f-public");
      enqueue({ label: label("note"), stage: "before",
                url: "/incidents/" + encodeURIComponent(number) + "/notes",
                fields: { note: value("f-note"), "public": pub && pub.checked ? "true" : "false" },
                files: files(document.getElementById("f-photos"), "before") }).then(afterSend);
      return;
    }
    if (name === "extension") {
      var until = value("f-until");
      if (!until) { showError("f-until", t.case_need_until); return; }
      if (!value("f-reason")) { showError("f-reason", gg.format(t.case_need_note, { field: t.case_field_reason })); return; }
      enqueue({ label: label("extension"),
                url: "/incidents/" + encodeURIComponent(number) + "/extension-requests",
                json: { until: new Date(until).toISOString(), reason: value("f-reason") } }).then(afterSend);
      return;
    }
    if (name === "assign") {
      if (!value("f-assignee")) { showError("f-assignee", t.case_need_assignee); return; }
      act("assign", { assignee: value("f-assignee") });
      return;
    }
    if (name === "mark_duplicate") {
      var dup = value("f-duplicate_of").toUpperCase().replace(/\s+/g, "");
      if (!/^[0-9]{6}-[0-9A-Z]{8}$/.test(dup)) { showError("f-duplicate_of", t.case_need_duplicate); return; }
      act("mark_duplicate", { duplicate_of: dup });
      return;
    }
    if (!value("f-reason")) { showError("f-reason", gg.format(t.case_need_note, { field: t.case_field_reason })); return; }
    act(name, { note: value("f-reason") });
  });

  function enqueue(item) {
    item.number = number;
    item.method = "POST";
    return gg.queue.submit(item).then(function (outcome) {
      outcome.label = item.label;
      return outcome;
    });
  }

  /* A state-machine action with the version this page shows (the outbox's pending
     actions included), so a change made meanwhile by someone else is a conflict. */
  function act(name, extra, photos) {
    var payload = { action: name, version: report.version };
    Object.keys(extra).forEach(function (k) { payload[k] = extra[k]; });
    var item = { label: label(name), url: "/incidents/" + encodeURIComponent(number) + "/actions" };
    if (photos && photos.length) {
      item.fields = {};
      Object.keys(payload).forEach(function (k) { item.fields[k] = String(payload[k]); });
      item.files = photos;
      item.stage = "after";
    } else {
      item.json = payload;
    }
    return enqueue(item).then(afterSend);
  }

  function afterSend(outcome) {
    if (outcome.state === "sent") { say(gg.format(t.case_sent, { label: outcome.label }), "ok"); }
    else if (outcome.state === "queued") { say(gg.format(t.case_queued, { label: outcome.label }), "queued"); }
    else { say(gg.format(t.case_failed, { label: outcome.label, why: gg.errorText(outcome.body) || outcome.status }), "error"); }
    closeForm();
    return reload();
  }

  function checkIn() {
    if (!navigator.geolocation) { say(gg.format(t.case_no_position, { why: "—" }), "error"); return; }
    say(t.case_locating);
    navigator.geolocation.getCurrentPosition(function (p) {
      position = { lon: p.coords.longitude, lat: p.coords.latitude };
      enqueue({ label: label("checkin"), url: "/incidents/" + encodeURIComponent(number) + "/check-in",
                json: { lon: position.lon, lat: position.lat } })
        .then(function (outcome) {
          if (outcome.state === "sent" && outcome.body) {
            var m = Math.round(outcome.body.distance_m);
            say(gg.format(outcome.body.on_site ? t.case_checked_in : t.case_checked_off,
                          { m: m, r: Math.round(config.checkinRadiusM) }), outcome.body.on_site ? "ok" : "error");
            reload();
            return;
          }
          afterSend(outcome);
        });
    }, function (err) {
      say(gg.format(t.case_no_position, { why: err.message || err.code }), "error");
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
  }

  /* ---- loading --------------------------------------------------------------------- */

  function loadMe() {
    return gg.staff.get("/auth/me").then(function (res) {
      if (res.ok) {
        me = res.body;
        localStorage.setItem(STORE_KEY + "me", JSON.stringify(me));
      }
      return me;
    }, function () {
      var saved = localStorage.getItem(STORE_KEY + "me");
      me = saved ? JSON.parse(saved) : null;
      return me;
    });
  }

  function drawWith(fresh, savedAt) {
    report = JSON.parse(JSON.stringify(fresh));
    return gg.queue.forReport(number).then(function (items) {
      withOutbox(items);
      document.getElementById("case-detail").hidden = false;
      draw();
      var copy = document.getElementById("case-offline");
      copy.textContent = savedAt ? gg.format(t.case_offline_copy, { time: when(savedAt) }) : "";
      copy.hidden = !savedAt;
    });
  }

  /* The report from the server, kept on the phone; offline, the kept copy (or the
     service worker's) with what waits in the outbox applied. */
  function reload() {
    return gg.staff.get("/incidents/" + encodeURIComponent(number)).then(function (res) {
      if (res.status === 404) { say(t.case_not_found, "error"); return; }
      if (!res.ok) {
        if (res.status !== 401) { say(gg.errorText(res.body) || String(res.status), "error"); }
        return;
      }
      try {
        localStorage.setItem(STORE_KEY + number, JSON.stringify({ at: new Date().toISOString(), body: res.body }));
      } catch (e) { /* a full store only costs the offline copy */ }
      return drawWith(res.body, null);
    }, function () {
      var kept = localStorage.getItem(STORE_KEY + number);
      if (!kept) { say(t.case_offline_none, "error"); return; }
      kept = JSON.parse(kept);
      return drawWith(kept.body, kept.at);
    });
  }

  function show() {
    loginForm.hidden = true;
    section.hidden = false;
    gg.queue.indicator(document.getElementById("queue-status"));
    gg.queue.onChange(function () { if (report) { reload(); } });
    say(t.case_loading);
    loadMe().then(function () {
      document.getElementById("desk-link").hidden = !isManager();
      return reload();
    }).then(function () {
      if (message.textContent === t.case_loading) { say(""); }
    });
    if (navigator.geolocation) {
      navigator.geolocation.watchPosition(function (p) {
        position = { lon: p.coords.longitude, lat: p.coords.latitude };
        if (report) { drawDistance(); }
      }, function () {}, { enableHighAccuracy: true, maximumAge: 30000 });
    }
  }

  function signedOut() {
    section.hidden = true;
    loginForm.hidden = false;
    me = null;
    report = null;
  }

  gg.staff.wireSignIn(loginForm, loginError, show);
  gg.staff.onSignedOut(signedOut);
  document.getElementById("logout").addEventListener("click", gg.staff.signOut);
  if (gg.staff.token()) { show(); }
})();
