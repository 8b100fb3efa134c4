/* The grid worker's map: sign in (one staff session per browser, gg.staff), then my reports (coloured by status, overdue ringed, listed by
   deadline) and my patrol list (numbered by risk, with the parts of each score). */
"use strict";
(function () {
  var t = gg.t;
  var config = gg.config;
  var PARTS = ["open_fire_hazards", "past_fire_hazards", "rental_density", "building_age",
               "vulnerable_residents", "days_since_visit"];
  var loginForm = document.getElementById("login");
  var loginError = document.getElementById("login-error");
  var work = document.getElementById("work");
  var layout = document.getElementById("worker-layout");
  var notWorker = document.getElementById("not-worker");
  var status = document.getElementById("map-status");
  var incidentList = document.getElementById("incidents");
  var patrolList = document.getElementById("patrol");
  var map = null;
  var markers = null;
  var request = 0;

  var authorised = gg.staff.get;


  function when(iso) {
    return iso ? new Date(iso).toLocaleString(config.lang === "en" ? "en-GB" : "zh-CN") : t.no_due;
  }

  function categoryLabel(c) { return config.lang === "en" ? c.label_en : c.label_zh; }

  function detailsLink(number) {
    var a = document.createElement("a");
    a.href = "/track/" + encodeURIComponent(number) + "?lang=" + config.lang;
    a.textContent = number;
    return a;
  }

  function signOut(message) {
    work.hidden = true;
    loginForm.hidden = false;
    loginError.textContent = message || "";
  }

  /* Nearest deadline first; reports without one last (the API's order, kept if it changes). */
  function byDeadline(a, b) {
    if (!a.due_at || !b.due_at) { return (a.due_at ? 0 : 1) - (b.due_at ? 0 : 1); }
    return new Date(a.due_at) - new Date(b.due_at);
  }

  function incidentMarker(item) {
    var colour = config.statusColours[item.status] || "#333";
    var label = categoryLabel(item.category) + " · " + gg.statusLabel(item.status) +
      (item.overdue ? " · " + t.overdue : "");
    var m = L.marker([item.lat, item.lon], {
      title: label, alt: label, keyboard: true,
      icon: L.divIcon({ className: "gg-marker gg-incident gg-status-" + item.status +
                                   (item.overdue ? " gg-overdue" : ""),
                        iconSize: [18, 18],
                        html: "<span style=\"display:block;width:100%;height:100%;border-radius:50%;background:" + colour + "\"></span>" })
    });
    var popup = document.createElement("div");
    popup.appendChild(detailsLink(item.tracking_number));
    popup.appendChild(document.createElement("br"));
    popup.appendChild(document.createTextNode(label));
    m.bindPopup(popup);
    return m;
  }

  function incidentItem(item) {
    var li = document.createElement("li");
    li.className = "work-incident";
    li.dataset.number = item.tracking_number;
    li.appendChild(detailsLink(item.tracking_number));
    li.appendChild(document.createTextNode(" " + categoryLabel(item.category) + " · " +
      gg.statusLabel(item.status)));
    li.appendChild(document.createElement("br"));
    li.appendChild(document.createTextNode(t.due + ": " + when(item.due_at) + " "));
    if (item.overdue) {
      var flag = document.createElement("span");
      flag.className = "overdue-flag";
      flag.textContent = t.overdue;
      li.appendChild(flag);
    }
    return li;
  }

  function patrolMarker(b, rank) {
    var label = rank + ". " + (b.address || b.building_id) + " · " + t.score + " " + b.score;
    return L.marker([b.lat, b.lon], {
      title: label, alt: label, keyboard: true,
      icon: L.divIcon({ className: "gg-patrol-marker", iconSize: [22, 22], html: String(rank) })
    }).bindPopup(label);
  }

  function partText(name, part) {
    var value = part.value === null ? t.no_data
      : name === "rental_density" ? Math.round(part.value * 100) + "%" : String(part.value);
    return t["p_" + name] + ": " + value + " (+" + part.points + ")";
  }

  function patrolItem(b) {
    var li = document.createElement("li");
    li.className = "work-building";
    var title = document.createElement("strong");
    title.textContent = (b.address || String(b.building_id)) + " · " + t.score + " " + b.score;
    li.appendChild(title);
    var parts = document.createElement("ul");
    parts.className = "parts";
    PARTS.forEach(function (name) {
      if (!b.parts[name]) { return; }
      var part = document.createElement("li");
      part.textContent = partText(name, b.parts[name]);
      parts.appendChild(part);
    });
    li.appendChild(parts);
    return li;
  }

  function draw(incidents, buildings) {
    markers.clearLayers();
    incidentList.textContent = "";
    patrolList.textContent = "";
    incidents.slice().sort(byDeadline).forEach(function (item) {
      incidentList.appendChild(incidentItem(item));
      if (item.lon !== null && item.lon !== undefined) { markers.addLayer(incidentMarker(item)); }
    });
    buildings.forEach(function (b, i) {
      patrolList.appendChild(patrolItem(b));
      if (b.lon !== null && b.lon !== undefined) { markers.addLayer(patrolMarker(b, i + 1)); }
    });
    document.getElementById("no-incidents").hidden = incidents.length > 0;
    document.getElementById("no-buildings").hidden = buildings.length > 0;
    document.body.dataset.incidents = String(incidents.length);
    document.body.dataset.buildings = String(buildings.length);
    if (markers.getLayers().length) { map.fitBounds(markers.getBounds(), { maxZoom: 17, padding: [20, 20] }); }
  }

  function load() {
    var mine = ++request;
    status.textContent = t.loading;
    Promise.all([authorised("/incidents?view=mine&limit=100"), authorised("/patrol?limit=50")])
      .then(function (answers) {
        if (mine !== request) { return; }
        status.textContent = "";
        var incidents = answers[0], patrol = answers[1];
        if (incidents.status === 401 || patrol.status === 401) { signOut(); return; }
        if (incidents.status === 403 || patrol.status === 403) {
          notWorker.hidden = false;
          layout.hidden = true;
          return;
        }
        if (!incidents.ok || !patrol.ok) {
          status.textContent = gg.errorText(incidents.ok ? patrol.body : incidents.body);
          return;
        }
        notWorker.hidden = true;
        layout.hidden = false;
        map.invalidateSize();
        draw(incidents.body.items, patrol.body.buildings);
      }, function () { status.textContent = t.network; });
  }

  function show() {
    loginForm.hidden = true;
    work.hidden = false;
    if (map === null) {
      map = gg.makeMap("map");
      markers = L.featureGroup().addTo(map);
    }
    map.invalidateSize();
    load();
  }

  gg.staff.wireSignIn(loginForm, loginError, show);
  gg.staff.onSignedOut(function () { signOut(); });
  document.getElementById("logout").addEventListener("click", gg.staff.signOut);

  if (gg.staff.token()) { show(); }
})();
