/* The managers' coverage map: sign in (token kept in sessionStorage for this tab), then
   the cells in view within the manager's area, coloured by the chosen layer. */
"use strict";
(function () {
  var t = gg.t;
  var config = gg.config;
  var TOKEN_KEY = "gridgov.token";
  var loginForm = document.getElementById("login");
  var loginError = document.getElementById("login-error");
  var coverage = document.getElementById("coverage");
  var status = document.getElementById("map-status");
  var legend = document.getElementById("legend");
  var map = null;
  var cells = null;
  var request = 0;
  var fitted = false;

  function layer() {
    var chosen = document.querySelector("input[name=layer]:checked").value;
    return config.layers.filter(function (l) { return l.id === chosen; })[0];
  }

  function percent(n) { return Math.round(n * 100) + "%"; }

  function classLabel(spec, c, i) {
    if (spec.kind === "boolean") { return t[c.label]; }
    var last = i === spec.classes.length - 1;
    if (spec.kind === "rate") {
      return last ? "≥ " + percent(c.min) : percent(c.min) + " – " + percent(c.max);
    }
    if (last) { return "≥ " + c.min; }
    return c.max - c.min === 1 ? String(c.min) : c.min + " – " + (c.max - 1);
  }

  /* The colour of a value: the last class whose minimum it reaches (the top one is open). */
  function colourOf(spec, value) {
    if (value === null || value === undefined) { return config.noDataColour; }
    var colour = config.noDataColour;
    spec.classes.forEach(function (c) {
      if (spec.kind === "boolean" ? c.value === value : value >= c.min) { colour = c.colour; }
    });
    return colour;
  }

  function swatch(colour, label) {
    var item = document.createElement("li");
    var box = document.createElement("span");
    box.className = "swatch swatch-cell";
    box.style.background = colour;
    item.appendChild(box);
    item.appendChild(document.createTextNode(label));
    return item;
  }

  function drawLegend() {
    var spec = layer();
    legend.textContent = "";
    legend.dataset.layer = spec.id;
    spec.classes.forEach(function (c, i) {
      legend.appendChild(swatch(c.colour, classLabel(spec, c, i)));
    });
    if (spec.kind === "rate") { legend.appendChild(swatch(config.noDataColour, t.no_data)); }
  }

  function style(feature) {
    return { color: "#444", weight: 1, fillOpacity: 0.75,
             fillColor: colourOf(layer(), feature.properties[layer().property]) };
  }

  function tooltip(p) {
    var box = document.createElement("div");
    box.className = "gg-cell-tooltip";
    var title = document.createElement("strong");
    title.textContent = p.code + (p.name ? " " + p.name : "");
    box.appendChild(title);
    [
      p.staffed ? t.staffed : t.unstaffed,
      t.open + ": " + p.open,
      t.overdue + ": " + p.overdue,
      t.satisfaction + ": " + (p.satisfaction === null ? t.no_data : percent(p.satisfaction)) +
        " (" + t.ratings + " " + p.ratings + ")"
    ].forEach(function (line) {
      box.appendChild(document.createElement("br"));
      box.appendChild(document.createTextNode(line));
    });
    return box;
  }

  function authorised(url, options) {
    options = options || {};
    options.headers = Object.assign({ "Accept": "application/json",
                                      "Accept-Language": config.lang,
                                      "Authorization": "Bearer " + sessionStorage.getItem(TOKEN_KEY) },
                                    options.headers || {});
    return fetch(url, options).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
    });
  }


  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    coverage.hidden = true;
    loginForm.hidden = false;
    loginError.textContent = message || "";
  }

  function load() {
    var mine = ++request;
    status.textContent = t.loading;
    authorised("/dashboard/cells.geojson?bbox=" + gg.bboxOf(map)).then(function (res) {
      if (mine !== request) { return; }  // a later pan already asked again
      status.textContent = "";
      if (res.status === 401) { signOut(); return; }
      if (res.status === 403) { signOut(t.not_manager); return; }
      if (!res.ok) { status.textContent = gg.errorText(res.body); return; }
      cells.clearLayers();
      cells.addData(res.body);
      if (res.body.truncated) { status.textContent = t.truncated; }
      document.body.dataset.cells = String(res.body.features.length);
      if (!fitted && res.body.features.length) {
        fitted = true;
        map.fitBounds(cells.getBounds());  // moveend loads again, for the new view
      }
    }, function () { status.textContent = t.network; });
  }

  function show() {
    loginForm.hidden = true;
    coverage.hidden = false;
    if (map === null) {
      map = gg.makeMap("map");
      cells = L.geoJSON(null, {
        style: style,
        onEachFeature: function (feature, shape) {
          shape.bindTooltip(tooltip(feature.properties), { sticky: true });
        }
      }).addTo(map);
      map.on("moveend", load);
    }
    map.invalidateSize();
    drawLegend();
    load();
  }

  gg.onSignIn(loginForm, loginError, TOKEN_KEY, show);
  document.getElementById("logout").addEventListener("click", function () { signOut(); });
  document.getElementById("layers").addEventListener("submit", function (e) { e.preventDefault(); });
  document.getElementById("layers").addEventListener("change", function () {
    drawLegend();
    if (cells) { cells.setStyle(style); }
  });

  if (sessionStorage.getItem(TOKEN_KEY)) { show(); }
})();
