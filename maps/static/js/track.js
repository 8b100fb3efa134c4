/* A report's status and public timeline by tracking number. */
"use strict";
(function () {
  var t = gg.t;
  var statusBox = document.getElementById("track-status");
  var facts = document.getElementById("track-facts");
  var timeline = document.getElementById("timeline");

  function fact(term, value) {
    if (!value) { return; }
    var dt = document.createElement("dt");
    var dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value;
    facts.appendChild(dt);
    facts.appendChild(dd);
  }

  function when(iso) { return iso ? new Date(iso).toLocaleString(gg.config.lang) : ""; }

  gg.getJSON("/reports/" + encodeURIComponent(gg.config.number)).then(function (res) {
    if (!res.ok) { statusBox.textContent = res.status === 404 ? t.not_found : res.body.error.message; return; }
    var r = res.body;
    statusBox.textContent = t.status + (gg.config.lang === "en" ? ": " : "：") + gg.statusLabel(r.status);
    statusBox.dataset.status = r.status;
    fact(t.category, gg.config.lang === "en" ? r.category.label_en : r.category.label_zh);
    fact(t.created_at, when(r.created_at));
    fact(t.resolve_due_at, when(r.resolve_due_at));
    fact(t.cell, r.cell_code);
    r.timeline.forEach(function (step) {
      var li = document.createElement("li");
      li.textContent = when(step.at) + " · " + (step.to ? gg.statusLabel(step.to) : step.kind);
      timeline.appendChild(li);
    });
  });
})();
