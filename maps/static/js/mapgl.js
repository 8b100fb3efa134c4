/* The pages' map: MapLibre GL on gridgov's own base map, the style at /maps/style.json
   (roads, water, green, compounds, places, buildings, cells and regions with their
   names; an external raster base under it when GRIDGOV_BASEMAP_URL is set), opened on
   the page's extent. Nothing is fetched from elsewhere: the style, tiles and glyphs are
   gridgov's, the worker script is ours (CSP build). Chinese ideographs are drawn by the
   browser from a local font (localIdeographFontFamily: MapLibre's own way for CJK, much
   lighter than downloading their glyph ranges); Latin, digits and punctuation come from
   gridgov's glyphs. Page layers go below LABELS so names stay on top. */
"use strict";
window.gg.mapgl = (function () {
  var config = window.gg.config;
  var VENDOR = "/static/vendor/maplibre-gl/dist/";
  var STYLE_URL = "/maps/style.json";
  var LABELS = "labels-start";  // the style's first label layer (maps/style.py)
  var ROAD_LABELS = "road-label";
  var IDEOGRAPH_FONTS = "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', " +
    "'PingFang SC', sans-serif";

  /* A map in element `id`; `options.bounds` ([w, s, e, n]) overrides the page's extent. */
  function make(id, options) {
    options = options || {};
    maplibregl.setWorkerUrl(VENDOR + "maplibre-gl-csp-worker.js");
    var e = options.bounds || config.extent;
    var map = new maplibregl.Map({
      container: id,
      style: window.location.origin + STYLE_URL,
      localIdeographFontFamily: IDEOGRAPH_FONTS,
      bounds: [[e[0], e[1]], [e[2], e[3]]],
      fitBoundsOptions: { padding: 20 },
      maxZoom: 19,
      attributionControl: false,
      cooperativeGestures: false
    });
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    // The page's map, for its tests and the screenshot tool (one map per page).
    window.gg.currentMap = map;
    return map;
  }

  /* Whether this browser can draw the map (WebGL); the pages' lists work without it. */
  function supported() {
    try {
      var canvas = document.createElement("canvas");
      return !!(window.maplibregl && (canvas.getContext("webgl2") || canvas.getContext("webgl")));
    } catch (err) { return false; }
  }

  /* A round marker with an accessible name: a button when `onClick` is given (it runs
     on click or Enter), else a labelled image. */
  function dot(label, colour, onClick, className) {
    var el = document.createElement(onClick ? "button" : "span");
    if (onClick) {
      el.type = "button";
      el.addEventListener("click", onClick);
    } else {
      el.setAttribute("role", "img");
    }
    el.className = "gl-dot " + (className || "");
    el.style.background = colour;
    el.setAttribute("aria-label", label);
    el.title = label;
    return el;
  }

  return { make: make, supported: supported, dot: dot, vendor: VENDOR,
           labelsLayer: LABELS, roadLabelsLayer: ROAD_LABELS };
})();
