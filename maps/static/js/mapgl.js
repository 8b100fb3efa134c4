/* The staff pages' map: MapLibre GL on gridgov's own vector tiles (/tiles/cells and
   /tiles/buildings), opened on the page's extent. Nothing is fetched from elsewhere: the
   style is built here, the worker script is ours (CSP build), and no glyphs are needed
   (names are drawn by the page's own HTML markers and lists). */
"use strict";
window.gg.mapgl = (function () {
  var config = window.gg.config;
  var VENDOR = "/static/vendor/maplibre-gl/dist/";

  function style() {
    var origin = window.location.origin;
    return {
      version: 8,
      sources: {
        gridgov: { type: "vector", minzoom: 10, maxzoom: 18,
                   tiles: [origin + "/tiles/cells/{z}/{x}/{y}.mvt"] },
        buildings: { type: "vector", minzoom: 13, maxzoom: 18,
                     tiles: [origin + "/tiles/buildings/{z}/{x}/{y}.mvt"] }
      },
      layers: [
        { id: "background", type: "background", paint: { "background-color": "#f4f1ea" } },
        { id: "cells-fill", type: "fill", source: "gridgov", "source-layer": "cells",
          paint: { "fill-color": "#e8ecef", "fill-opacity": 0.6 } },
        { id: "buildings", type: "fill", source: "buildings", "source-layer": "buildings",
          minzoom: 15, paint: { "fill-color": "#cfd3d8", "fill-outline-color": "#8a8f96" } },
        { id: "cells-line", type: "line", source: "gridgov", "source-layer": "cells",
          paint: { "line-color": "#6b7b8c", "line-width": 1 } }
      ]
    };
  }

  /* A map in element `id`; `options.bounds` ([w, s, e, n]) overrides the page's extent. */
  function make(id, options) {
    options = options || {};
    maplibregl.setWorkerUrl(VENDOR + "maplibre-gl-csp-worker.js");
    var e = options.bounds || config.extent;
    var map = new maplibregl.Map({
      container: id,
      style: style(),
      bounds: [[e[0], e[1]], [e[2], e[3]]],
      fitBoundsOptions: { padding: 20 },
      maxZoom: 19,
      attributionControl: false,
      cooperativeGestures: false
    });
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
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

  return { make: make, supported: supported, dot: dot, vendor: VENDOR };
})();
