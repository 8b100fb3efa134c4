/* Shared by the pages: config, labels, the bbox of a map in view, errors, and the small
   helpers several page scripts need (elements, dates, distances). */
"use strict";
window.gg = (function () {
  var config = JSON.parse(document.getElementById("page-config").textContent);

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

  function fillCategories(select) {
    return getJSON("/categories").then(function (res) {
      (res.body.categories || []).forEach(function (c) {
        var option = document.createElement("option");
        option.value = c.code;
        option.textContent = labelOf(c);
        select.appendChild(option);
      });
      // The categories themselves, for pages that need their questions or flags.
      return res.body.categories || [];
    });
  }

  /* The page language's label of anything the API labels twice (label_en, label_zh). */
  function labelOf(x) { return config.lang === "en" ? x.label_en : x.label_zh; }

  /* A date and time (an ISO string or a Date) as the pages show them (24-hour, day
     before month in English); "" for none. */
  function dateTime(iso) {
    return iso ? new Date(iso).toLocaleString(config.lang === "en" ? "en-GB" : "zh-CN", { hour12: false }) : "";
  }

  /* Metres between two {lon, lat} points (haversine on the sphere: good to a few metres
     at a walk's range). */
  function metres(a, b) {
    var rad = Math.PI / 180;
    var dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
    var h = Math.sin(dLat / 2) * Math.sin(dLat / 2) +
      Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) * Math.sin(dLon / 2);
    return 2 * 6371008.8 * Math.asin(Math.sqrt(h));
  }

  /* An element with attributes (`attrs`: name -> value) and text (none when undefined or null). */
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function statusLabel(status) { return config.strings["s_" + status] || status; }

  /* The message of an error answer (our error shape, or FastAPI's detail). */
  function errorText(body) {
    return body && body.error ? body.error.message : (body && body.detail) || "";
  }

  return { config: config, t: config.strings, bboxOf: bboxOf, getJSON: getJSON,
           fillCategories: fillCategories, statusLabel: statusLabel,
           errorText: errorText, labelOf: labelOf, dateTime: dateTime, metres: metres, el: el };
})();

/* A label with its {name} placeholders filled from `values` (unknown ones left as they are). */
window.gg.format = function (text, values) {
  return String(text).replace(/\{(\w+)\}/g, function (whole, name) {
    return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
  });
};
