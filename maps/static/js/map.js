/* The public map: open hazards in view on gridgov's base map (MapLibre), single reports
   coloured by status as the legend says, several close together as one neutral numbered
   circle (a cluster mixes statuses, so it takes none of their colours), a heat map by a
   switch, a category filter. The canvas is not reachable feature by feature from the
   keyboard or a screen reader, so the page also says what is in view: counts by status and
   by category (announced as they change) and a list of the reports, each of which opens
   its popup on the map. */
"use strict";
(function () {
  var t = gg.t;
  var config = gg.config;
  var LIST_LIMIT = 50;  // more than this is not a list anyone reads: zoom in
  var CLUSTER_MAX_ZOOM = 14;  // from zoom 15 each report is drawn on its own
  var STATUSES = Object.keys(config.statusColours);
  var REGION_ORDER = ["community", "street", "district", "city"];  // the nearest first
  var EMPTY = { type: "FeatureCollection", features: [] };
  var mapEl = document.getElementById("map");
  var select = document.getElementById("category");
  var status = document.getElementById("map-status");
  var heatBox = document.getElementById("heat");
  var summary = document.getElementById("map-summary");
  var reportsEl = document.getElementById("reports");
  var moreEl = document.getElementById("reports-more");
  var categories = {};  // code → label, for the counts by category
  var features = [];  // the last answer's reports (all in view)
  var request = 0;
  var popup = null;
  var map = null;
  var ready = false;  // the style is loaded and our layers are on it

  // The filters apply as they change; Enter must not submit (and reload) the page.
  document.getElementById("filters").addEventListener("submit", function (e) {
    e.preventDefault();
  });


  /* The legend's single source: each status's colour from the config, as a data-driven
     expression, so a point can only be drawn in its legend colour. */
  function statusColour() {
    var expression = ["match", ["get", "status"]];
    STATUSES.forEach(function (s) { expression.push(s, config.statusColours[s]); });
    expression.push("#333333");
    return expression;
  }

  /* The cluster colour is the legend swatch's (map.css), so the two cannot differ. */
  function clusterColour() {
    return window.getComputedStyle(document.querySelector(".map-cluster-swatch")).backgroundColor;
  }

  function text(tag, className, content) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (content !== undefined) { node.textContent = content; }
    return node;
  }

  // --- where a report is: its grid cell's name, else its region's ------------------------

  function ringHas(ring, x, y) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) { inside = !inside; }
    }
    return inside;
  }

  function covers(geometry, x, y) {
    var polygons = geometry.type === "Polygon" ? [geometry.coordinates]
      : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
    return polygons.some(function (rings) {
      return ringHas(rings[0], x, y) && !rings.slice(1).some(function (hole) { return ringHas(hole, x, y); });
    });
  }

  /* The base map's cells and regions loaded now (tiles in and around the view). */
  function areasLoaded() {
    if (!ready) { return { cells: [], regions: [] }; }
    var regions = map.querySourceFeatures("gridgov", { sourceLayer: "regions" });
    regions.sort(function (a, b) {
      return REGION_ORDER.indexOf(a.properties.level) - REGION_ORDER.indexOf(b.properties.level);
    });
    return { cells: map.querySourceFeatures("gridgov", { sourceLayer: "cells" }), regions: regions };
  }

  function placeOf(areas, coordinates) {
    var x = coordinates[0], y = coordinates[1];
    var found = areas.cells.concat(areas.regions).filter(function (f) { return covers(f.geometry, x, y); })[0];
    return found ? (found.properties.name || found.properties.code) : "";
  }

  /* Fills in the places of the listed reports (after the base map's tiles have come). */
  function fillPlaces() {
    var areas = areasLoaded();
    Array.prototype.forEach.call(reportsEl.querySelectorAll(".map-report-place"), function (span) {
      var place = placeOf(areas, features[Number(span.dataset.index)].geometry.coordinates);
      span.textContent = place || t.map_place_unknown;
    });
  }

  // --- popups -----------------------------------------------------------------------------

  function popupContent(p) {
    var box = text("div", "map-popup");
    box.appendChild(text("strong", "", gg.labelOf(p)));
    box.appendChild(document.createElement("br"));
    box.appendChild(document.createTextNode(gg.statusLabel(p.status) + " · " + p.created_at.slice(0, 10)));
    return box;
  }

  function openPopup(coordinates, p) {
    if (popup) { popup.remove(); }
    popup = new maplibregl.Popup({ maxWidth: "16rem", offset: 10 })
      .setLngLat(coordinates).setDOMContent(popupContent(p)).addTo(map);
  }

  // --- what is in view, as text -----------------------------------------------------------

  function fillTable(id, counts, labelFor) {
    var body = document.querySelector("#" + id + " tbody");
    body.textContent = "";
    Object.keys(counts).forEach(function (key) {
      var row = document.createElement("tr");
      row.dataset.key = key;
      row.appendChild(text("td", "", labelFor(key)));
      row.appendChild(text("td", "", String(counts[key])));
      body.appendChild(row);
    });
  }

  function listItem(f, index) {
    var p = f.properties;
    var item = document.createElement("li");
    item.dataset.status = p.status;
    var swatch = text("span", "swatch");
    swatch.style.background = config.statusColours[p.status] || "#333333";
    item.appendChild(swatch);
    item.appendChild(text("span", "map-report-status", gg.statusLabel(p.status)));
    item.appendChild(document.createTextNode(" · " + gg.labelOf(p) + " · "));
    var place = text("span", "map-report-place", t.map_place_unknown);
    place.dataset.index = String(index);
    item.appendChild(place);
    item.appendChild(document.createTextNode(" · " + t.map_reported_on + " " + p.created_at.slice(0, 10) + " "));
    if (map) {
      var show = text("button", "link-button", t.map_show_on_map);
      show.type = "button";
      show.setAttribute("aria-label", t.map_show_on_map + " · " + gg.labelOf(p) + " · " + gg.statusLabel(p.status));
      show.addEventListener("click", function () {
        map.jumpTo({ center: f.geometry.coordinates, zoom: Math.max(map.getZoom(), CLUSTER_MAX_ZOOM + 2) });
        openPopup(f.geometry.coordinates, p);  // focus moves into the popup
      });
      item.appendChild(show);
    }
    return item;
  }

  function describe(truncated) {
    var byStatus = {};
    var byCategory = {};
    STATUSES.forEach(function (s) { byStatus[s] = 0; });
    features.forEach(function (f) {
      var p = f.properties;
      byStatus[p.status] = (byStatus[p.status] || 0) + 1;
      byCategory[p.category] = (byCategory[p.category] || 0) + 1;
    });
    Object.keys(byStatus).forEach(function (s) { if (!byStatus[s]) { delete byStatus[s]; } });
    var parts = [features.length === 0 ? t.map_summary_none
      : gg.format(truncated ? t.map_summary_truncated : t.map_summary, { count: features.length })];
    Object.keys(byStatus).forEach(function (s) { parts.push(gg.statusLabel(s) + " " + byStatus[s]); });
    summary.textContent = parts.join(" ");
    fillTable("by-status", byStatus, gg.statusLabel);
    var labels = {};
    features.forEach(function (f) { labels[f.properties.category] = gg.labelOf(f.properties); });
    fillTable("by-category", byCategory, function (code) { return categories[code] || labels[code] || code; });
    reportsEl.textContent = "";
    features.slice(0, LIST_LIMIT).forEach(function (f, i) { reportsEl.appendChild(listItem(f, i)); });
    moreEl.hidden = features.length <= LIST_LIMIT;
    moreEl.textContent = gg.format(t.map_list_more, { count: features.length - LIST_LIMIT });
    fillPlaces();
  }

  // --- the data ---------------------------------------------------------------------------

  function bbox() {
    if (map) { return gg.bboxOf(map); }
    return config.extent.map(function (n) { return Number(n).toFixed(6); }).join(",");
  }

  function draw() {
    if (!ready) { return; }
    var data = { type: "FeatureCollection", features: features };
    map.getSource("incidents").setData(data);
    map.getSource("incidents-heat").setData(data);
  }

  function load() {
    var mine = ++request;
    var url = "/map/incidents.geojson?bbox=" + bbox();
    if (select.value) { url += "&category=" + encodeURIComponent(select.value); }
    status.textContent = t.loading;
    gg.getJSON(url).then(function (res) {
      if (mine !== request) { return; }  // a later pan already asked again
      status.textContent = "";
      if (!res.ok) { status.textContent = gg.errorText(res.body); return; }
      features = res.body.features;
      draw();
      describe(res.body.truncated);
      document.body.dataset.markers = String(features.length);
    }, function () { if (mine === request) { status.textContent = t.network; } });
  }

  function addLayers() {
    var before = gg.mapgl.labelsLayer;
    var font = map.getLayoutProperty(gg.mapgl.roadLabelsLayer, "text-font");
    map.addSource("incidents", { type: "geojson", data: EMPTY, cluster: true,
                                 clusterMaxZoom: CLUSTER_MAX_ZOOM, clusterRadius: 40 });
    map.addSource("incidents-heat", { type: "geojson", data: EMPTY });
    map.addLayer({
      id: "incidents-heat", type: "heatmap", source: "incidents-heat",
      layout: { visibility: heatBox.checked ? "visible" : "none" },
      paint: { "heatmap-radius": ["interpolate", ["linear"], ["zoom"], 10, 12, 16, 30],
               "heatmap-intensity": ["interpolate", ["linear"], ["zoom"], 10, 0.6, 16, 1.5],
               "heatmap-opacity": 0.75 }
    }, before);
    map.addLayer({
      id: "incidents-cluster", type: "circle", source: "incidents", filter: ["has", "point_count"],
      paint: { "circle-color": clusterColour(),
               "circle-radius": ["step", ["get", "point_count"], 14, 10, 18, 100, 23],
               "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 }
    }, before);
    map.addLayer({
      id: "incidents-count", type: "symbol", source: "incidents", filter: ["has", "point_count"],
      layout: { "text-field": ["get", "point_count_abbreviated"], "text-font": font,
                "text-size": 13, "text-allow-overlap": true, "text-ignore-placement": true },
      paint: { "text-color": "#ffffff" }
    }, before);
    map.addLayer({
      id: "incidents-point", type: "circle", source: "incidents", filter: ["!", ["has", "point_count"]],
      paint: { "circle-color": statusColour(), "circle-radius": 8,
               "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 }
    }, before);

    map.on("click", "incidents-cluster", function (e) {
      var f = e.features[0];
      map.getSource("incidents").getClusterExpansionZoom(f.properties.cluster_id).then(function (zoom) {
        map.easeTo({ center: f.geometry.coordinates, zoom: zoom });
      });
    });
    map.on("click", "incidents-point", function (e) {
      var f = e.features[0];
      openPopup(f.geometry.coordinates, f.properties);
    });
    ["incidents-cluster", "incidents-point"].forEach(function (id) {
      map.on("mouseenter", id, function () { map.getCanvas().style.cursor = "pointer"; });
      map.on("mouseleave", id, function () { map.getCanvas().style.cursor = ""; });
    });
  }

  if (gg.mapgl.supported()) {
    map = gg.mapgl.make("map");
    window.gg.currentMap = map;  // for the page's tests
    map.on("load", function () {
      addLayers();
      ready = true;
      draw();
      map.on("moveend", load);
      map.on("idle", fillPlaces);  // the cells' tiles may come after the reports
    });
  } else {
    mapEl.classList.add("map-no-webgl");
    mapEl.textContent = t.map_no_webgl;
  }

  gg.fillCategories(select).then(function (list) {
    list.forEach(function (c) { categories[c.code] = gg.labelOf(c); });
  });
  select.addEventListener("change", load);
  heatBox.addEventListener("change", function () {
    if (ready) { map.setLayoutProperty("incidents-heat", "visibility", heatBox.checked ? "visible" : "none"); }
    document.body.dataset.heat = heatBox.checked ? "on" : "off";
  });
  load();
})();
