/* The managers' coverage map: sign in (one staff session per browser, gg.staff), then
   drill down through the manager's area: the regions one level below (district → street
   → community), each coloured by the chosen layer, and at the bottom a community's cells.
   Clicking a region on the map, or its name in the list, zooms to it and shows the level
   below; the breadcrumb goes back up. Every answer is one bounded level, never the whole
   area's cells. Drawn by MapLibre on gridgov's base map: a fill coloured by the chosen
   layer's classes (one expression built from the same config as the legend), outlines,
   and a label on each area with its name and figure; hovering shows the details, a click
   drills down (regions) or opens the details with the link to the desk (cells). The lists
   beside the map are the keyboard's way to the same. */
"use strict";
(function () {
  var t = gg.t;
  var config = gg.config;
  var loginForm = document.getElementById("login");
  var loginError = document.getElementById("login-error");
  var coverage = document.getElementById("coverage");
  var status = document.getElementById("map-status");
  var legend = document.getElementById("legend");
  var legendCaption = document.getElementById("legend-caption");
  var trail = document.getElementById("trail");
  var childrenPanel = document.getElementById("children-panel");
  var children = document.getElementById("children");
  var cellsPanel = document.getElementById("cells-panel");
  var cellList = document.getElementById("cells");
  var mapEl = document.getElementById("map");
  var map = null;  // false: this browser cannot draw it (the lists still work)
  var ready = false;  // the style is loaded and our layers are on it
  var drawn = 0;  // which render the map's last "drawn" mark belongs to
  var hover = null;
  var popup = null;
  var request = 0;
  var view = null;  // the last answer: level, region, trail, windows, features
  var EMPTY = { type: "FeatureCollection", features: [] };

  function chosenLayer() {
    var chosen = document.querySelector("input[name=layer]:checked").value;
    return config.layers.filter(function (l) { return l.id === chosen; })[0];
  }

  /* How the chosen layer colours the level shown: cells, or regions. */
  function scale() {
    var layer = chosenLayer();
    return view && view.level !== "cell" ? layer.region : layer.cell;
  }

  function percent(n) { return Math.round(n * 100) + "%"; }

  function classLabel(spec, c, i) {
    if (spec.kind === "boolean") { return t[c.label]; }
    var last = i === spec.classes.length - 1;
    if (spec.kind === "rate") {
      if (last && c.min >= 1) { return "100%"; }
      return last ? "≥ " + percent(c.min) : percent(c.min) + " – " + percent(c.max);
    }
    if (spec.kind === "measure") {
      return (last ? "≥ " + c.min : c.min + " – " + c.max) + " " + t[spec.unit];
    }
    if (last) { return "≥ " + c.min; }
    return c.max - c.min === 1 ? String(c.min) : c.min + " – " + (c.max - 1);
  }

  /* A figure as words: what the list beside the map says for the chosen layer. */
  function valueText(spec, value) {
    if (value === null || value === undefined) { return t.no_data; }
    if (spec.kind === "boolean") { return value ? t.staffed : t.unstaffed; }
    if (spec.kind === "rate") { return percent(value); }
    if (spec.kind === "measure") { return value + " " + t[spec.unit]; }
    return String(value);
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
    var layer = chosenLayer();
    var spec = scale();
    var caption = t[spec.caption];
    if (layer.window && view) { caption = caption.replace("{days}", view.windows[layer.window]); }
    legendCaption.textContent = caption;
    legend.textContent = "";
    legend.dataset.layer = layer.id;
    spec.classes.forEach(function (c, i) {
      legend.appendChild(swatch(c.colour, classLabel(spec, c, i)));
    });
    if (spec.kind === "rate" || spec.kind === "measure") {
      legend.appendChild(swatch(config.noDataColour, t.no_data));
    }
  }

  /* colourOf as a MapLibre expression: the same classes, so map and legend agree. */
  function fillColour(spec) {
    var value = ["get", spec.property];
    if (spec.kind === "boolean") {
      var cases = ["case"];
      spec.classes.forEach(function (c) { cases.push(["==", value, c.value], c.colour); });
      cases.push(config.noDataColour);
      return cases;
    }
    var steps = ["step", ["to-number", value], config.noDataColour];
    spec.classes.forEach(function (c) { steps.push(c.min, c.colour); });
    return ["case", ["==", ["typeof", value], "number"], steps, config.noDataColour];
  }

  /* Each area's label on the map: its name (a cell's code when it has none) and figure. */
  function labelled(answer) {
    var spec = scale();
    return { type: "FeatureCollection", features: answer.features.map(function (f) {
      var p = f.properties;
      var extra = { gg_label: (p.name || p.code) + "\n" + valueText(spec, p[spec.property]) };
      return { type: "Feature", geometry: f.geometry, properties: Object.assign({}, p, extra) };
    }) };
  }

  function boundsOf(features) {
    var b = [Infinity, Infinity, -Infinity, -Infinity];
    function walk(c) {
      if (typeof c[0] === "number") {
        b = [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])];
      } else { c.forEach(walk); }
    }
    features.forEach(function (f) { if (f.geometry) { walk(f.geometry.coordinates); } });
    return [[b[0], b[1]], [b[2], b[3]]];
  }

  /* The map after an answer or a change of layer; `fit` zooms to the areas shown. */
  function paint(fit) {
    if (!ready) { return; }
    var mine = ++drawn;
    delete document.body.dataset.drawn;
    if (popup) { popup.remove(); }
    if (hover) { hover.remove(); }  // its area may be gone
    var cells = view && view.level === "cell";
    map.getSource("coverage").setData(view ? labelled(view) : EMPTY);
    if (view) { map.setPaintProperty("coverage-fill", "fill-color", fillColour(scale())); }
    map.setPaintProperty("coverage-line", "line-width", cells ? 1 : 2);
    if (fit && view && view.features.length) {
      map.fitBounds(boundsOf(view.features), { padding: 24, duration: 300 });
    }
    // Marked once the map has drawn this answer (the tests wait for it).
    map.once("idle", function () { if (mine === drawn) { document.body.dataset.drawn = "1"; } });
  }

  function orNoData(value, shown) { return value === null ? t.no_data : shown; }

  function tooltip(p) {
    var box = document.createElement("div");
    box.className = "gg-cell-tooltip";
    var title = document.createElement("strong");
    title.textContent = p.code + (p.name ? " " + p.name : "");
    box.appendChild(title);
    var cell = p.level === "cell";
    var perCell = function (n) {
      return cell || n === null ? "" : " (" + t.dash_tip_per_cell + " " + n + ")";
    };
    [
      cell ? (p.staffed ? t.staffed : t.unstaffed)
           : t.dash_tip_staffed_cells + ": " + p.staffed_cells + "/" + p.cells,
      t.open + ": " + p.open + perCell(p.open_per_cell),
      t.overdue + ": " + p.overdue + perCell(p.overdue_per_cell),
      t.dash_tip_response + ": " +
        orNoData(p.response_hours, p.response_hours + " " + t.dash_unit_hours) +
        " (" + t.dash_tip_accepted + " " + p.accepted + ")",
      t.satisfaction + ": " + orNoData(p.satisfaction, percent(p.satisfaction)) +
        " (" + t.ratings + " " + p.ratings + ")",
      t.dash_tip_hazards + ": " +
        orNoData(p.hazard_density, p.hazard_density + " " + t.dash_unit_per_100_buildings) +
        " (" + t.dash_tip_fire_reports + " " + p.fire_reports + ", " +
        t.dash_tip_buildings + " " + p.buildings + ")",
      t.dash_tip_patrol + ": " + orNoData(p.patrol_coverage, percent(p.patrol_coverage)) +
        " (" + t.dash_tip_visited + " " + p.visited + "/" + p.buildings + ")"
    ].forEach(function (line) {
      box.appendChild(document.createElement("br"));
      box.appendChild(document.createTextNode(line));
    });
    return box;
  }

  var authorised = gg.staff.get;

  function signOut(message) {
    request++;  // an answer still on its way is for the account that left
    view = null;
    paint(false);
    trail.textContent = "";
    children.textContent = "";
    childrenPanel.hidden = true;
    cellList.textContent = "";
    cellsPanel.hidden = true;
    coverage.hidden = true;
    loginForm.hidden = false;
    loginError.textContent = message || "";
  }

  function crumb(code, name, current) {
    var item = document.createElement("li");
    if (current) {
      var here = document.createElement("span");
      here.id = "trail-current";
      here.tabIndex = -1;  // focused after a step taken from the keyboard
      here.setAttribute("aria-current", "location");
      here.textContent = name;
      item.appendChild(here);
    } else {
      var up = document.createElement("button");
      up.type = "button";
      up.className = "link-button";
      up.dataset.code = code || "";
      up.textContent = name;
      up.addEventListener("click", function () { load(code, true); });
      item.appendChild(up);
    }
    return item;
  }

  /* A link to the managers' desk, its lists narrowed to a region or a cell. */
  function deskLink(kind, code, name) {
    var a = document.createElement("a");
    a.className = "desk-link";
    a.href = "/desk?" + kind + "=" + encodeURIComponent(code) + "&lang=" + config.lang;
    a.textContent = kind === "cell" ? gg.format(t.desk_cell_reports, { code: code }) : t.desk_open_in_desk;
    if (kind === "region") { a.setAttribute("aria-label", t.desk_open_in_desk + " " + name); }
    return a;
  }

  /* Under the breadcrumb: the region shown, opened in the desk (the keyboard's way to
     its reports, cells included). */
  function drawDeskLink() {
    var holder = document.getElementById("desk-region-link");
    if (!holder) {
      holder = document.createElement("p");
      holder.id = "desk-region-link";
      trail.parentNode.parentNode.insertBefore(holder, trail.parentNode.nextSibling);
    }
    holder.textContent = "";
    if (view.region) { holder.appendChild(deskLink("region", view.region.code, view.region.name)); }
  }

  function drawTrail() {
    drawDeskLink();
    trail.textContent = "";
    var steps = view.trail.map(function (a) { return { code: a.code, name: a.name }; });
    if (view.all_regions || !view.region) { steps.unshift({ code: null, name: t.dash_all_regions }); }
    steps.forEach(function (s, i) {
      trail.appendChild(crumb(s.code, s.name, i === steps.length - 1));
    });
  }

  /* The regions shown, as buttons: the keyboard's way down, with the chosen figure. */
  function drawChildren() {
    children.textContent = "";
    childrenPanel.hidden = view.level === "cell" || view.features.length === 0;
    if (childrenPanel.hidden) { return; }
    view.features.forEach(function (f) {
      var p = f.properties;
      var item = document.createElement("li");
      var down = document.createElement("button");
      down.type = "button";
      down.className = "link-button";
      down.dataset.code = p.code;
      down.textContent = p.name;
      down.addEventListener("click", function () { load(p.code, true); });
      var figure = document.createElement("span");
      figure.className = "figure";
      item.appendChild(down);
      item.appendChild(figure);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(deskLink("region", p.code, p.name));
      children.appendChild(item);
    });
    showFigures();
  }

  /* A community's cells, each with its figure and its reports in the desk: the keyboard's
     way to what a click on a cell shows. */
  function drawCells() {
    cellList.textContent = "";
    cellsPanel.hidden = view.level !== "cell" || view.features.length === 0;
    if (cellsPanel.hidden) { return; }
    view.features.forEach(function (f) {
      var p = f.properties;
      var item = document.createElement("li");
      item.dataset.code = p.code;
      var name = document.createElement("span");
      name.textContent = p.name ? p.name + " (" + p.code + ")" : p.code;
      var figure = document.createElement("span");
      figure.className = "figure";
      item.appendChild(name);
      item.appendChild(figure);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(deskLink("cell", p.code));
      cellList.appendChild(item);
    });
    showFigures();
  }

  function showFigures() {
    var spec = scale();
    var list = view.level === "cell" ? cellList : children;
    Array.prototype.forEach.call(list.querySelectorAll("li"), function (item, i) {
      var p = view.features[i].properties;
      item.querySelector(".figure").textContent = valueText(spec, p[spec.property]);
    });
  }

  /* The properties of an area shown, as the server sent them (the map's copies lose nulls). */
  function propertiesOf(code) {
    var found = view && view.features.filter(function (f) { return f.properties.code === code; })[0];
    return found ? found.properties : null;
  }

  function addLayers() {
    var before = gg.mapgl.labelsLayer;
    var font = map.getLayoutProperty(gg.mapgl.roadLabelsLayer, "text-font");
    // Our labels carry the cells' names with their figures; the base map's would repeat them.
    map.setLayoutProperty("cell-label", "visibility", "none");
    map.addSource("coverage", { type: "geojson", data: EMPTY });
    map.addLayer({ id: "coverage-fill", type: "fill", source: "coverage",
                   paint: { "fill-color": config.noDataColour, "fill-opacity": 0.7 } }, before);
    map.addLayer({ id: "coverage-line", type: "line", source: "coverage",
                   paint: { "line-color": "#444444", "line-width": 2 } }, before);
    // Above the base map's labels: the figures are what this page is for.
    map.addLayer({ id: "coverage-label", type: "symbol", source: "coverage",
                   layout: { "text-field": ["get", "gg_label"], "text-font": font,
                             "text-size": 13, "text-max-width": 9, "text-padding": 1 },
                   paint: { "text-color": "#1a1a1a", "text-halo-color": "#ffffff",
                            "text-halo-width": 1.5 } });
    hover = new maplibregl.Popup({ closeButton: false, closeOnClick: false, className: "dash-tooltip",
                                   maxWidth: "22rem", offset: 12 });
    map.on("mousemove", "coverage-fill", function (e) {
      var p = propertiesOf(e.features[0].properties.code);
      if (!p) { return; }
      map.getCanvas().style.cursor = "pointer";
      hover.setLngLat(e.lngLat).setDOMContent(tooltip(p)).addTo(map);
    });
    map.on("mouseleave", "coverage-fill", function () {
      map.getCanvas().style.cursor = "";
      hover.remove();
    });
    map.on("click", "coverage-fill", function (e) {
      var p = propertiesOf(e.features[0].properties.code);
      if (!p) { return; }
      if (p.level !== "cell") { load(p.code, false); return; }
      hover.remove();
      var box = tooltip(p);
      box.appendChild(document.createElement("br"));
      box.appendChild(deskLink("cell", p.code));
      if (popup) { popup.remove(); }
      popup = new maplibregl.Popup({ maxWidth: "22rem", className: "dash-cell-popup" })
        .setLngLat(e.lngLat).setDOMContent(box).addTo(map);
    });
  }

  function render(answer, focusTrail) {
    view = answer;
    document.body.dataset.level = answer.level;
    document.body.dataset.region = answer.region ? answer.region.code : "";
    if (answer.level === "cell") {
      document.body.dataset.cells = String(answer.features.length);
    } else {
      delete document.body.dataset.cells;
    }
    var place = answer.region ? answer.region.name : t.dash_all_regions;
    status.textContent = answer.truncated ? t.truncated
      : answer.features.length === 0 ? t.dash_empty
      : t.dash_showing.replace("{region}", place)
          .replace("{count}", answer.features.length)
          .replace("{level}", t["dash_levels_" + answer.level]);
    paint(true);
    drawTrail();
    drawChildren();
    drawCells();
    drawLegend();
    if (focusTrail) { document.getElementById("trail-current").focus(); }
  }

  /* The level below a region (none: where this manager's map opens). */
  function load(code, focusTrail) {
    var mine = ++request;
    status.textContent = t.loading;
    var url = "/dashboard/regions.geojson" + (code ? "?region=" + encodeURIComponent(code) : "");
    authorised(url).then(function (res) {
      if (mine !== request) { return; }  // a later click already asked again
      if (res.status === 401) { signOut(); return; }
      if (res.status === 403 && !code) { signOut(t.not_manager); return; }
      if (!res.ok) { status.textContent = gg.errorText(res.body); return; }
      render(res.body, focusTrail);
    }, function () { if (mine === request) { status.textContent = t.network; } });
  }

  function show() {
    loginForm.hidden = true;
    coverage.hidden = false;
    if (map === null && !gg.mapgl.supported()) {
      map = false;
      mapEl.classList.add("dash-no-map");
      mapEl.textContent = t.dash_no_webgl;
    } else if (map === null) {
      map = gg.mapgl.make("map");
      window.gg.currentMap = map;  // for the page's tests
      map.on("load", function () {
        addLayers();
        ready = true;
        paint(true);
      });
    } else if (map) {
      map.resize();  // the map was hidden while signed out
    }
    load(null, false);
  }

  gg.staff.wireSignIn(loginForm, loginError, show);
  gg.staff.onSignedOut(function () { signOut(); });
  document.getElementById("logout").addEventListener("click", gg.staff.signOut);
  document.getElementById("layers").addEventListener("submit", function (e) { e.preventDefault(); });
  document.getElementById("layers").addEventListener("change", function () {
    if (!view) { return; }
    drawLegend();
    paint(false);
    showFigures();
  });

  if (gg.staff.token()) { show(); }
})();
