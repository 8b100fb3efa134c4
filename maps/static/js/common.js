/* Shared by the pages: config, the base map (tiles if set, else grid cells), errors. */
"use strict";
window.gg = (function () {
  var config = JSON.parse(document.getElementById("page-config").textContent);
  var BUILDINGS_FROM_ZOOM = 16;

  function bboxOf(map) {
    var b = map.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
      .map(function (n) { return n.toFixed(6); }).join(",");
  }

  function getJSON(url) {
    return fetch(url, { headers: { "Accept": "application/json",
                                   "Accept-Language": config.lang } })
      .then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
      });
  }

  /* A Leaflet map on the configured extent with its base: the tile URL when one is set,
     otherwise the grid cells in view (no outside request at all). */
  function makeMap(id) {
    var map = L.map(id, { keyboard: true, maxZoom: 19 });
    var e = config.extent;
    map.fitBounds([[e[1], e[0]], [e[3], e[2]]]);
    if (config.basemapUrl) {
      L.tileLayer(config.basemapUrl, { maxZoom: 19 }).addTo(map);
    } else {
      var cells = L.geoJSON(null, {
        style: { color: "#6b7b8c", weight: 1, fillColor: "#e8ecef", fillOpacity: 0.6 },
        interactive: false
      }).addTo(map);
      var buildings = L.geoJSON(null, {
        style: { color: "#8a8f96", weight: 1, fillColor: "#cfd3d8", fillOpacity: 0.8 },
        interactive: false
      }).addTo(map);
      var drawBase = function () {
        var bbox = bboxOf(map);
        getJSON("/cells?limit=1000&bbox=" + bbox).then(function (res) {
          if (!res.ok) { return; }
          cells.clearLayers();
          cells.addData(res.body);
        });
        buildings.clearLayers();
        // Footprints only when zoomed in to a few streets: a bounded page each time.
        if (map.getZoom() < BUILDINGS_FROM_ZOOM) { return; }
        getJSON("/buildings?limit=2000&bbox=" + bbox).then(function (res) {
          if (res.ok) { buildings.addData(res.body); }
        });
      };
      map.on("moveend", drawBase);
      drawBase();
    }
    return map;
  }

  function fillCategories(select) {
    return getJSON("/categories").then(function (res) {
      (res.body.categories || []).forEach(function (c) {
        var option = document.createElement("option");
        option.value = c.code;
        option.textContent = config.lang === "en" ? c.label_en : c.label_zh;
        select.appendChild(option);
      });
      // The categories themselves, for pages that need their questions or flags.
      return res.body.categories || [];
    });
  }

  function statusLabel(status) { return config.strings["s_" + status] || status; }

  /* The message of an error answer (our error shape, or FastAPI's detail). */
  function errorText(body) {
    return body && body.error ? body.error.message : (body && body.detail) || "";
  }

  return { config: config, t: config.strings, bboxOf: bboxOf, getJSON: getJSON,
           makeMap: makeMap, fillCategories: fillCategories, statusLabel: statusLabel,
           errorText: errorText };
})();

/* A label with its {name} placeholders filled from `values` (unknown ones left as they are). */
window.gg.format = function (text, values) {
  return String(text).replace(/\{(\w+)\}/g, function (whole, name) {
    return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
  });
};
