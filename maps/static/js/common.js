/* Shared by the pages: config, labels, the bbox of a map in view, errors. */
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
           fillCategories: fillCategories, statusLabel: statusLabel,
           errorText: errorText };
})();

/* A label with its {name} placeholders filled from `values` (unknown ones left as they are). */
window.gg.format = function (text, values) {
  return String(text).replace(/\{(\w+)\}/g, function (whole, name) {
    return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
  });
};
