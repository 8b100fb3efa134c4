/* The front page: the published 好差评 figures of last calendar month per district, read
   from GET /statistics (the public figures cover a calendar month or quarter; groups
   under the publication threshold come back suppressed and say so here). */
"use strict";
(function () {
  var t = gg.t;
  var lang = gg.config.lang;

  function byId(id) { return document.getElementById(id); }

  function isoDay(d) {
    return d.getFullYear() + "-" + ("0" + (d.getMonth() + 1)).slice(-2) + "-" +
      ("0" + d.getDate()).slice(-2);
  }

  function percent(rate) {
    return rate === null || rate === undefined ? "—" : Math.round(rate * 1000) / 10 + "%";
  }

  function cell(row, value) {
    var td = document.createElement("td");
    td.textContent = value;
    row.appendChild(td);
    return td;
  }

  function showGroups(body) {
    var tbody = byId("figures").querySelector("tbody");
    tbody.textContent = "";
    body.groups.forEach(function (g) {
      var row = document.createElement("tr");
      var head = document.createElement("th");
      head.scope = "row";
      head.textContent = g.name;
      row.appendChild(head);
      if (g.suppressed) {
        cell(row, t.idx_figures_hidden).colSpan = 5;
      } else {
        var ratings = g.ratings || {};
        cell(row, String(g.reports));
        cell(row, percent(g.resolution && g.resolution.rate));
        cell(row, g.ratings_suppressed ? t.idx_figures_hidden : percent(ratings.satisfaction_rate));
        cell(row, g.ratings_suppressed ? "—" : percent(ratings.active_satisfaction_rate));
        cell(row, g.ratings_suppressed ? "—" : percent(ratings.unrated_rate));
      }
      tbody.appendChild(row);
    });
    byId("figures-wrap").hidden = body.groups.length === 0;
    byId("figures-status").textContent = body.groups.length ? "" : t.idx_figures_none;
    byId("figures-status").hidden = body.groups.length > 0;
    if (body.min_group) {
      byId("figures-note").textContent = gg.format(t.idx_figures_note, { k: body.min_group });
      byId("figures-note").hidden = false;
    }
  }

  /* Last calendar month, [first day, first day of this month). */
  var now = new Date();
  var to = new Date(now.getFullYear(), now.getMonth(), 1);
  var from = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  var last = new Date(to.getTime() - 86400000);
  byId("figures-period").textContent = gg.format(t.idx_figures_period,
    { from: from.toLocaleDateString(lang), to: last.toLocaleDateString(lang) });
  gg.getJSON("/statistics?level=district&from=" + isoDay(from) + "&to=" + isoDay(to))
    .then(function (res) {
      if (!res.ok) { byId("figures-status").textContent = t.idx_figures_failed; return; }
      showGroups(res.body);
    }, function () { byId("figures-status").textContent = t.idx_figures_failed; });
})();
