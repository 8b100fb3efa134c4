/* The managers' coverage map: sign in (one staff session per browser, gg.staff), then
   drill down through the manager's area: the regions one level below (district → street
   → community), each coloured by the chosen layer, and at the bottom a community's cells.
   Clicking a region on the map, or its name in the list, zooms to it and shows the level
   below; the breadcrumb goes back up. Every answer is one bounded level, never the whole
   area's cells. */
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
  var map = null;
  var shapes = null;
  var request = 0;
  var view = null;  // the last answer: level, region, trail, windows, features

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

  function style(feature) {
    var spec = scale();
    return { color: "#444", weight: view && view.level === "cell" ? 1 : 2, fillOpacity: 0.75,
             fillColor: colourOf(spec, feature.properties[spec.property]) };
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
    if (shapes) { shapes.clearLayers(); }
    trail.textContent = "";
    children.textContent = "";
    childrenPanel.hidden = true;
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

  function showFigures() {
    var spec = scale();
    Array.prototype.forEach.call(children.querySelectorAll("li"), function (item, i) {
      var p = view.features[i].properties;
      item.querySelector(".figure").textContent = valueText(spec, p[spec.property]);
    });
  }

  function render(answer, focusTrail) {
    view = answer;
    shapes.clearLayers();
    shapes.addData(answer);
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
    if (answer.features.length) { map.fitBounds(shapes.getBounds(), { padding: [8, 8] }); }
    drawTrail();
    drawChildren();
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
    if (map === null) {
      map = gg.makeMap("map");
      // Above the overlay pane: the base's cells are redrawn there after every pan and
      // would otherwise cover the colours.
      map.createPane("coverage").style.zIndex = 450;
      shapes = L.geoJSON(null, {
        pane: "coverage",
        style: style,
        onEachFeature: function (feature, shape) {
          var p = feature.properties;
          shape.bindTooltip(tooltip(p), { sticky: true });
          // The code on the drawn shape, so a region or cell can be found in the page.
          shape.on("add", function () { shape.getElement().setAttribute("data-code", p.code); });
          if (p.level !== "cell") { shape.on("click", function () { load(p.code, false); }); }
          else { shape.bindPopup(deskLink("cell", p.code)); }
        }
      }).addTo(map);
    }
    map.invalidateSize();
    load(null, false);
  }

  gg.staff.wireSignIn(loginForm, loginError, show);
  gg.staff.onSignedOut(function () { signOut(); });
  document.getElementById("logout").addEventListener("click", gg.staff.signOut);
  document.getElementById("layers").addEventListener("submit", function (e) { e.preventDefault(); });
  document.getElementById("layers").addEventListener("change", function () {
    if (!view) { return; }
    drawLegend();
    shapes.setStyle(style);
    showFigures();
  });

  if (gg.staff.token()) { show(); }
})();
