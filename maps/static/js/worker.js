/* The grid worker's app (/worker), phone first: sign in once (gg.staff), then my open
   reports by deadline (overdue first) with distance and time left, each linking to its
   /case page; the same reports on a MapLibre map above the risk-ranked patrol buildings;
   a visit (and, in one step, a hazard found on it) recorded from the patrol list through
   the offline queue (gg.queue); new work arriving live over the inbox stream (SSE); and
   the last lists kept per user to show when the network is gone. */
"use strict";
(function () {
  var t = gg.t;
  var config = gg.config;
  var OPEN = ["submitted", "assigned", "accepted", "in_progress", "transferred", "reopened"];
  var TOPICS = { "incident.assigned": "wk_topic_assigned", "incident.reminder": "wk_topic_reminder",
                 "incident.escalated": "wk_topic_escalated", "incident.note": "wk_topic_note" };
  var CACHE_PREFIX = "gridgov.worker.";      // public data (the categories)
  var DATA_PREFIX = "gridgov.data.worker.";  // the user's lists (staff.js clears gridgov.data.*)
  var NOT_FROM_PATROL = ["fire.damage_declaration"];
  var loginForm = document.getElementById("login");
  var loginError = document.getElementById("login-error");
  var work = document.getElementById("work");
  var layout = document.getElementById("worker-layout");
  var notWorker = document.getElementById("not-worker");
  var status = document.getElementById("map-status");
  var mapEl = document.getElementById("map");
  var incidentList = document.getElementById("incidents");
  var patrolList = document.getElementById("patrol");
  var inboxList = document.getElementById("inbox");
  var badge = document.getElementById("inbox-badge");
  var form = document.getElementById("visit-form");
  var note = document.getElementById("visit-note");
  var photo = document.getElementById("visit-photo");
  var category = document.getElementById("visit-category");
  var positionText = document.getElementById("visit-position");

  var map = null;
  var mapFitted = false;
  var todoMarkers = [];
  var patrolMarkers = [];
  var meMarker = null;
  var incidents = [];
  var buildings = [];
  var position = null;          // {lon, lat, accuracy} once the device knows
  var positionFailed = false;
  var watchId = null;
  var stream = null;
  var ticker = null;
  var request = 0;
  var categoriesFilled = null;
  var formFor = null;           // {building, mode} while the visit form is open
  var results = {};             // building id -> the last submission's message element
  var indicating = false;

  // --- small helpers ------------------------------------------------------------------

  function fmt(key, n) { return gg.format(t[key], { n: n }); }

  function caseUrl(number) {
    return "/case/" + encodeURIComponent(number) + "?lang=" + encodeURIComponent(config.lang);
  }

  function hhmm(date) {
    return ("0" + date.getHours()).slice(-2) + ":" + ("0" + date.getMinutes()).slice(-2);
  }

  function hasPoint(x) { return x.lon !== null && x.lon !== undefined && x.lat !== null && x.lat !== undefined; }

  /* Each signed-in user's lists apart; under DATA_PREFIX, so gg.staff.signOut (here, in
     another tab or on a 401) removes them with the session. */
  function cacheKey(name) { return DATA_PREFIX + gg.staff.userId() + "." + name; }

  function remember(name, data) {
    try { localStorage.setItem(cacheKey(name), JSON.stringify({ at: Date.now(), data: data })); }
    catch (err) { /* storage full or off: the page works without the cache */ }
  }

  function recall(name) {
    try { return JSON.parse(localStorage.getItem(cacheKey(name)) || "null"); }
    catch (err) { return null; }
  }

  function distanceText(item) {
    if (!position || !hasPoint(item)) { return t.wk_distance_unknown; }
    var m = gg.metres(position, item);
    return m < 1000 ? fmt("wk_metres", Math.round(m / 10) * 10 || Math.round(m))
      : fmt("wk_km", (m / 1000).toFixed(1));
  }

  function spanText(ms) {
    var minutes = Math.max(1, Math.floor(ms / 60000));
    if (minutes < 60) { return fmt("wk_minutes", minutes); }
    var hours = Math.floor(minutes / 60);
    return hours < 48 ? fmt("wk_hours", hours) : fmt("wk_days", Math.floor(hours / 24));
  }

  function timeText(item) {
    if (!item.due_at) { return { text: t.no_due, over: false }; }
    var left = new Date(item.due_at).getTime() - Date.now();
    return left >= 0 ? { text: gg.format(t.wk_left, { n: spanText(left) }), over: false }
      : { text: gg.format(t.wk_over, { n: spanText(-left) }), over: true };
  }

  /* Overdue first, then the nearest deadline; reports without one last. */
  function byDeadline(a, b) {
    if (!a.due_at || !b.due_at) { return (a.due_at ? 0 : 1) - (b.due_at ? 0 : 1); }
    return new Date(a.due_at) - new Date(b.due_at);
  }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) { e.className = className; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  // --- my work --------------------------------------------------------------------------

  function incidentItem(item) {
    var li = el("li");
    li.dataset.number = item.tracking_number;
    var over = timeText(item).over || item.overdue;
    if (over) { li.className = "wk-overdue"; }
    var a = el("a", "wk-item");
    a.href = caseUrl(item.tracking_number);
    a.appendChild(el("span", "wk-cat", gg.labelOf(item.category)));
    a.appendChild(document.createTextNode(" "));
    a.appendChild(el("span", "wk-number", item.tracking_number));
    a.appendChild(el("span", "wk-address", item.address || t.wk_no_address));
    var line = el("span", "wk-line");
    var dist = el("span", "wk-dist");
    dist.setAttribute("aria-label", t.wk_distance_label);
    line.appendChild(dist);
    line.appendChild(el("span", "wk-time"));
    var state = el("span", "wk-status");
    var swatch = el("span", "swatch");
    swatch.style.background = config.statusColours[item.status] || "#333";
    state.appendChild(swatch);
    state.appendChild(document.createTextNode(gg.statusLabel(item.status)));
    line.appendChild(state);
    a.appendChild(line);
    li.appendChild(a);
    li._item = item;
    return li;
  }

  /* Distance and time left change without a reload: as the worker moves, as time passes. */
  function refreshLive() {
    Array.prototype.forEach.call(incidentList.children, function (li) {
      var item = li._item;
      li.querySelector(".wk-dist").textContent = t.wk_distance_label + " " + distanceText(item);
      var time = timeText(item);
      var span = li.querySelector(".wk-time");
      span.textContent = time.text;
      span.className = "wk-time" + (time.over ? " wk-time-over" : "");
    });
  }

  function drawIncidents(items) {
    incidents = items.filter(function (i) { return OPEN.indexOf(i.status) >= 0; });
    incidents.sort(function (a, b) {
      return (b.overdue ? 1 : 0) - (a.overdue ? 1 : 0) || byDeadline(a, b);
    });
    incidentList.textContent = "";
    incidents.forEach(function (item) { incidentList.appendChild(incidentItem(item)); });
    refreshLive();
    document.getElementById("no-incidents").hidden = incidents.length > 0;
    document.body.dataset.incidents = String(incidents.length);
    drawMarkers();
  }

  // --- patrol ---------------------------------------------------------------------------

  /* The top three parts of a building's score, in words: why it is high on the list. */
  function reasons(b) {
    var p = b.parts || {};
    var found = [];
    function add(name, text) { if (p[name] && p[name].points > 0) { found.push([p[name].points, text]); } }
    if (p.open_fire_hazards) { add("open_fire_hazards", fmt("wk_r_open", p.open_fire_hazards.value)); }
    if (p.past_fire_hazards) { add("past_fire_hazards", fmt("wk_r_past", p.past_fire_hazards.value)); }
    if (p.rental_density) { add("rental_density", fmt("wk_r_rental", Math.round(p.rental_density.value * 100))); }
    if (p.building_age) {
      add("building_age", p.building_age.value === null ? t.wk_r_age_unknown : fmt("wk_r_age", p.building_age.value));
    }
    if (p.vulnerable_residents) { add("vulnerable_residents", fmt("wk_r_vulnerable", p.vulnerable_residents.value)); }
    if (p.days_since_visit) {
      add("days_since_visit", p.days_since_visit.value === null ? t.wk_r_never : fmt("wk_r_days", p.days_since_visit.value));
    }
    found.sort(function (a, b) { return b[0] - a[0]; });
    return found.slice(0, 3).map(function (f) { return f[1]; }).join(" · ");
  }

  function buildingName(b) { return b.address || t.wk_no_address; }

  function patrolItem(b, rank) {
    var li = el("li", "wk-building");
    li.dataset.building = String(b.building_id);
    li.id = "building-" + b.building_id;
    li.tabIndex = -1;
    var title = el("strong", null, rank + ". " + buildingName(b));
    li.appendChild(title);
    li.appendChild(document.createTextNode(" · " + t.score + " " + b.score));
    li.appendChild(el("p", "wk-reasons", reasons(b)));
    var actions = el("div", "wk-building-actions");
    var record = el("button", "wk-record", t.wk_record_visit);
    record.type = "button";
    record.setAttribute("aria-controls", "visit-form");
    record.addEventListener("click", function () { openForm(li, b, "visit"); });
    var hazard = el("button", "wk-hazard secondary", t.wk_file_hazard);
    hazard.type = "button";
    hazard.setAttribute("aria-controls", "visit-form");
    hazard.addEventListener("click", function () { openForm(li, b, "hazard"); });
    actions.appendChild(record);
    actions.appendChild(hazard);
    li.appendChild(actions);
    var result = results[b.building_id] || el("p", "wk-result");
    result.setAttribute("role", "status");
    results[b.building_id] = result;
    li.appendChild(result);
    return li;
  }

  function drawPatrol(list) {
    buildings = list;
    var openId = formFor && formFor.building.building_id;
    work.appendChild(form);  // out of the list while it is redrawn, typed text kept
    patrolList.textContent = "";
    list.forEach(function (b, i) { patrolList.appendChild(patrolItem(b, i + 1)); });
    document.getElementById("no-buildings").hidden = list.length > 0;
    document.body.dataset.buildings = String(list.length);
    var again = openId && list.filter(function (b) { return b.building_id === openId; })[0];
    if (again) { placeForm(document.getElementById("building-" + openId), again, formFor.mode); }
    else { closeForm(); }
    drawMarkers();
  }

  // --- the visit form -------------------------------------------------------------------

  function showPosition() {
    positionText.textContent = position ? fmt("wk_position_ok", Math.round(position.accuracy || 0))
      : positionFailed ? t.wk_position_none : t.wk_position_waiting;
  }

  /* A fire burning now is a 119 call, and damage is declared for a house at its own
     route: neither is a hazard filed from a patrol visit. */
  function fileable(c) { return !c.emergency && NOT_FROM_PATROL.indexOf(c.code) < 0; }

  function fillCategories() {
    if (categoriesFilled) { return categoriesFilled; }
    categoriesFilled = gg.fillCategories(category).then(function (cats) {
      cats.forEach(function (c) {
        if (!fileable(c)) { category.querySelector("option[value='" + c.code + "']").remove(); }
      });
      try { localStorage.setItem(CACHE_PREFIX + "categories", JSON.stringify(cats)); } catch (err) { /* optional */ }
    }, function () {
      // Offline: the categories seen last time.
      var cats = [];
      try { cats = JSON.parse(localStorage.getItem(CACHE_PREFIX + "categories") || "[]"); } catch (err) { /* none */ }
      cats.filter(fileable).forEach(function (c) {
        var option = el("option", null, gg.labelOf(c));
        option.value = c.code;
        category.appendChild(option);
      });
      categoriesFilled = null;
    });
    return categoriesFilled;
  }

  function clearErrors() {
    ["visit-note", "visit-category"].forEach(function (id) {
      document.getElementById(id).removeAttribute("aria-invalid");
      document.getElementById(id + "-error").textContent = "";
    });
  }

  function placeForm(li, b, mode) {
    formFor = { building: b, mode: mode };
    var hazard = mode === "hazard";
    document.getElementById("visit-category-field").hidden = !hazard;
    // A plain visit keeps its photo as evidence; a hazard's goes with its report.
    document.getElementById("visit-photo-field").hidden = false;
    document.getElementById("visit-photo-hint").textContent = hazard ? t.wk_photo_hint : t.wk_photo_hint_visit;
    document.getElementById("visit-submit").textContent = hazard ? t.wk_submit_hazard : t.wk_submit_visit;
    form.setAttribute("aria-label", (hazard ? t.wk_file_hazard : t.wk_record_visit) + " · " + buildingName(b));
    li.insertBefore(form, li.querySelector(".wk-result"));
    form.hidden = false;
    showPosition();
  }

  function openForm(li, b, mode) {
    clearErrors();
    if (!formFor || formFor.building.building_id !== b.building_id) { form.reset(); }
    if (mode === "hazard") { fillCategories(); }
    placeForm(li, b, mode);
    (mode === "hazard" ? category : note).focus();
  }

  function closeForm() {
    formFor = null;
    form.hidden = true;
    work.appendChild(form);
  }

  /* Through the offline queue when it is there; else straight to the API (then a lost
     network fails the write instead of keeping it). */
  function submit(item) {
    if (window.gg.queue) { return gg.queue.submit(item); }
    var options = { key: gg.staff.newKey() };
    if (item.files) {
      var data = new FormData();
      Object.keys(item.fields).forEach(function (k) { data.append(k, item.fields[k]); });
      item.files.forEach(function (f) { data.append(f.field, f.blob, f.name); });
      options.form = data;
    } else {
      options.json = item.json;
    }
    return gg.staff.api(item.method, item.url, options).then(function (r) {
      return { state: r.ok ? "sent" : r.status === 409 ? "conflict" : "failed", status: r.status, body: r.body };
    }, function () { return { state: "failed", status: 0, body: null }; });
  }

  function failure(answer) {
    return t.wk_failed + (answer.status ? gg.errorText(answer.body) || String(answer.status) : t.network);
  }

  function reportItem(b, note, file) {
    var fields = { category: category.value, lon: b.lon, lat: b.lat, building_id: b.building_id,
                   description: note, channel: "patrol" };
    var item = { label: gg.format(t.wk_label_report, { address: buildingName(b) }), number: null,
                 method: "POST", url: "/reports" };
    if (file) {
      item.fields = {};
      Object.keys(fields).forEach(function (k) { item.fields[k] = String(fields[k]); });
      item.files = [{ field: "photos", name: file.name || "photo.jpg", type: file.type, blob: file }];
    } else {
      item.json = fields;
    }
    return item;
  }

  /* A plain visit with a photo goes as a form (fields + files, kept whole in the offline
     queue); in hazard mode the photo goes with the report instead, so it is sent once. */
  function visitItem(b, visit, file) {
    var item = { label: gg.format(t.wk_label_visit, { address: buildingName(b) }), number: null,
                 method: "POST", url: "/patrol/visits" };
    if (file) {
      item.fields = {};
      Object.keys(visit).forEach(function (k) {
        if (visit[k] !== null && visit[k] !== undefined) { item.fields[k] = String(visit[k]); }
      });
      item.files = [{ field: "photos", name: file.name || "photo.jpg", type: file.type, blob: file }];
    } else {
      item.json = visit;
    }
    return item;
  }

  function onSubmit(e) {
    e.preventDefault();
    if (!formFor) { return; }
    clearErrors();
    var b = formFor.building, hazard = formFor.mode === "hazard";
    var text = note.value.trim();
    var bad = null;
    if (hazard && !category.value) { bad = bad || category; invalid("visit-category", t.wk_category_required); }
    if (hazard && !text) { bad = bad || note; invalid("visit-note", t.wk_findings_required); }
    if (bad) { bad.focus(); return; }
    var visit = { building_id: b.building_id, note: text || null, hazards_found: hazard ? 1 : 0 };
    if (position) { visit.lon = position.lon; visit.lat = position.lat; }
    var file = (photo.files && photo.files[0]) || null;
    var report = hazard ? reportItem(b, text, file) : null;
    var result = results[b.building_id];
    var button = document.getElementById("visit-submit");
    button.disabled = true;
    result.textContent = t.wk_sending;
    // Both are handed to the queue before either answer: it keeps them in order offline.
    var sending = [submit(visitItem(b, visit, hazard ? null : file))];
    if (report) { sending.push(submit(report)); }
    Promise.all(sending).then(function (answers) {
      button.disabled = false;
      result.textContent = "";
      var v = answers[0];
      result.appendChild(el("span", null, v.state === "sent" ? t.wk_visit_sent
        : v.state === "queued" ? t.wk_visit_queued : failure(v)));
      var r = answers[1];
      if (r) {
        result.appendChild(document.createTextNode(" "));
        if (r.state === "sent" && r.body && r.body.tracking_number) {
          result.appendChild(document.createTextNode(t.wk_report_sent));
          var a = el("a", "wk-new-report", r.body.tracking_number);
          a.href = caseUrl(r.body.tracking_number);
          result.appendChild(a);
        } else {
          result.appendChild(el("span", null, r.state === "queued" ? t.wk_report_queued : failure(r)));
        }
      }
      var kept = v.state === "sent" || v.state === "queued";
      if (kept && (!r || r.state === "sent" || r.state === "queued")) {
        form.reset();
        closeForm();
      }
      if (r && r.state === "sent") { loadWork(); }
    });
  }

  function invalid(id, message) {
    document.getElementById(id).setAttribute("aria-invalid", "true");
    document.getElementById(id + "-error").textContent = message;
  }

  // --- the map --------------------------------------------------------------------------

  function makeMap() {
    if (map !== null) { return; }
    if (!gg.mapgl.supported()) {
      mapEl.classList.add("wk-no-map");
      mapEl.textContent = t.wk_map_unsupported;
      map = false;
      return;
    }
    map = gg.mapgl.make("map");
  }

  function marker(element, item) {
    return new maplibregl.Marker({ element: element }).setLngLat([item.lon, item.lat]).addTo(map);
  }

  /* Patrol buildings first and smaller, to-dos after them with a higher z-index: a to-do is
     never under a building's marker. */
  function drawMarkers() {
    if (!map) { return; }
    patrolMarkers.concat(todoMarkers).forEach(function (m) { m.remove(); });
    patrolMarkers = [];
    todoMarkers = [];
    buildings.forEach(function (b, i) {
      if (!hasPoint(b)) { return; }
      var label = (i + 1) + ". " + buildingName(b) + " · " + t.score + " " + b.score;
      var dot = gg.mapgl.dot(label, "#37474f", function () {
        var li = document.getElementById("building-" + b.building_id);
        if (li) { li.scrollIntoView({ block: "center" }); li.focus(); }
      }, "wk-patrol-dot");
      patrolMarkers.push(marker(dot, b));
    });
    incidents.forEach(function (item) {
      if (!hasPoint(item)) { return; }
      var label = gg.labelOf(item.category) + " · " + gg.statusLabel(item.status) +
        (item.overdue ? " · " + t.wk_overdue : "") + " · " + item.tracking_number;
      var dot = gg.mapgl.dot(label, config.statusColours[item.status] || "#333", function () {
        window.location.href = caseUrl(item.tracking_number);
      }, "wk-todo" + (item.overdue ? " wk-overdue-ring" : ""));
      dot.dataset.number = item.tracking_number;
      todoMarkers.push(marker(dot, item));
    });
  }

  /* Once, when both lists are in: every to-do and patrol building in view. */
  function fitMap() {
    if (!map || mapFitted) { return; }
    var points = incidents.concat(buildings).filter(hasPoint);
    if (!points.length) { return; }
    mapFitted = true;
    var w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
    points.forEach(function (p) {
      w = Math.min(w, p.lon); e = Math.max(e, p.lon); s = Math.min(s, p.lat); n = Math.max(n, p.lat);
    });
    map.fitBounds([[w, s], [e, n]], { padding: { top: 40, bottom: 40, left: 40, right: 70 }, maxZoom: 17, animate: false });
  }

  function drawMe() {
    if (!map || !position) { return; }
    if (meMarker === null) {
      var me = el("span", "wk-me");
      me.setAttribute("role", "img");
      me.setAttribute("aria-label", t.wk_me);
      meMarker = new maplibregl.Marker({ element: me }).setLngLat([position.lon, position.lat]).addTo(map);
    } else {
      meMarker.setLngLat([position.lon, position.lat]);
    }
  }

  function watchPosition() {
    if (watchId !== null || !navigator.geolocation) { return; }
    watchId = navigator.geolocation.watchPosition(function (p) {
      position = { lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy };
      positionFailed = false;
      refreshLive();
      drawMe();
      if (formFor) { showPosition(); }
    }, function () {
      positionFailed = true;
      if (formFor) { showPosition(); }
    }, { enableHighAccuracy: true, maximumAge: 15000, timeout: 30000 });
  }

  // --- loading, with the cache as the fallback -----------------------------------------

  /* A list from the API, kept for offline use; on failure the kept copy, marked. */
  function fetchList(url, pick, name) {
    return gg.staff.get(url).then(function (r) {
      if (r.status === 401 || r.status === 403) { return { status: r.status }; }
      if (r.ok && navigator.onLine === false) {
        // Offline, so the service worker answered from its copy: say how old ours is.
        var kept = recall(name);
        return { data: pick(r.body), at: kept ? kept.at : Date.now() };
      }
      if (r.ok) { remember(name, pick(r.body)); return { data: pick(r.body) }; }
      return fallback(name, gg.errorText(r.body));
    }, function () { return fallback(name, t.network); });
  }

  function fallback(name, message) {
    var kept = recall(name);
    return kept ? { data: kept.data, at: kept.at, message: message } : { error: message };
  }

  function markOffline(id, answer) {
    var p = document.getElementById(id);
    p.hidden = !answer.at;
    if (answer.at) { p.textContent = gg.format(t.wk_offline_data, { time: hhmm(new Date(answer.at)) }); }
  }

  function loadWork() {
    var mine = ++request;
    return fetchList("/incidents?view=mine&limit=100", function (b) { return b.items; }, "work")
      .then(function (answer) {
        if (mine !== request || answer.status) { return answer; }
        if (answer.error) { status.textContent = answer.error; return answer; }
        markOffline("incidents-offline", answer);
        drawIncidents(answer.data);
        return answer;
      });
  }

  function loadPatrol() {
    return fetchList("/patrol?limit=50", function (b) { return b.buildings; }, "patrol")
      .then(function (answer) {
        if (answer.status) { return answer; }
        if (answer.error) { status.textContent = answer.error; return answer; }
        markOffline("patrol-offline", answer);
        drawPatrol(answer.data);
        return answer;
      });
  }

  function load() {
    status.textContent = t.loading;
    Promise.all([loadPatrol(), loadWork()]).then(function (answers) {
      if (status.textContent === t.loading) { status.textContent = ""; }
      if (answers[0].status === 403) {
        notWorker.hidden = false;
        layout.hidden = true;
        return;
      }
      if (answers[0].status === 401 || answers[1].status === 401) { return; }
      notWorker.hidden = true;
      layout.hidden = false;
      if (map) { map.resize(); fitMap(); }
      watchPosition();
      listen();
      loadInbox();
    });
  }

  // --- the inbox: badge, list and the live stream ----------------------------------------

  function setBadge(unread) {
    badge.hidden = !unread;
    badge.textContent = String(unread || 0);
    document.getElementById("inbox-link").setAttribute("aria-label", t.wk_inbox + " · " + fmt("wk_unread", unread || 0));
  }

  function inboxItem(item) {
    var li = el("li");
    li.dataset.id = String(item.id);
    var text = t[TOPICS[item.topic] || "wk_topic_other"] + (item.tracking_number ? " " + item.tracking_number : "") +
      " · " + hhmm(new Date(item.created_at));
    var body = item.tracking_number ? el("a", null, text) : el("span", "wk-msg", text);
    if (item.tracking_number) { body.href = caseUrl(item.tracking_number); }
    if (!item.read_at) { body.classList.add("wk-unread"); }
    li.appendChild(body);
    return li;
  }

  function addInbox(items, atTop) {
    items.forEach(function (item) {
      if (inboxList.querySelector("li[data-id='" + item.id + "']")) { return; }
      var li = inboxItem(item);
      if (atTop) { inboxList.insertBefore(li, inboxList.firstChild); } else { inboxList.appendChild(li); }
    });
    document.getElementById("no-inbox").hidden = inboxList.children.length > 0;
  }

  function loadInbox() {
    fetchList("/inbox?limit=10", function (b) { return b; }, "inbox").then(function (answer) {
      if (!answer.data) { return; }
      inboxList.textContent = "";
      addInbox(answer.data.items, false);
      setBadge(answer.data.unread);
    });
  }

  /* The inbox stream: the unread count on connect, then each new item; new work reloads
     the list. EventSource reconnects by itself (and resumes with Last-Event-ID). */
  function listen() {
    if (stream !== null || !window.EventSource || !gg.staff.token()) { return; }
    stream = new EventSource("/inbox/stream?access_token=" + encodeURIComponent(gg.staff.token()));
    stream.addEventListener("inbox", function (e) {
      var data = JSON.parse(e.data);
      setBadge(data.unread);
      if (data.items && data.items.length) {
        addInbox(data.items.slice().reverse(), true);
        loadWork();
      }
    });
  }

  // --- session ------------------------------------------------------------------------

  function signOut(message) {
    if (stream) { stream.close(); stream = null; }
    if (watchId !== null) { navigator.geolocation.clearWatch(watchId); watchId = null; }
    if (ticker) { clearInterval(ticker); ticker = null; }
    closeForm();
    incidentList.textContent = "";
    patrolList.textContent = "";
    inboxList.textContent = "";
    results = {};
    incidents = [];
    buildings = [];
    drawMarkers();
    work.hidden = true;
    loginForm.hidden = false;
    loginError.textContent = message || "";
  }

  function show() {
    loginForm.hidden = true;
    work.hidden = false;
    makeMap();
    if (window.gg.queue && !indicating) {
      indicating = true;
      gg.queue.indicator(document.getElementById("queue-status"));
    }
    if (!ticker) { ticker = setInterval(refreshLive, 60000); }
    load();
  }

  form.addEventListener("submit", onSubmit);
  document.getElementById("visit-cancel").addEventListener("click", function () {
    var li = formFor && document.getElementById("building-" + formFor.building.building_id);
    closeForm();
    if (li) { li.querySelector(".wk-record").focus(); }
  });
  gg.staff.wireSignIn(loginForm, loginError, show);
  gg.staff.onSignedOut(function () { signOut(); });
  document.getElementById("logout").addEventListener("click", function () {
    gg.staff.signOut();
  });
  window.addEventListener("online", function () { if (!work.hidden && gg.staff.token()) { load(); } });

  if (gg.staff.token()) { show(); }
})();
