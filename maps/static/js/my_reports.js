/* A resident's own reports (GET /reports/mine) and notifications (GET /inbox), after
   signing in with the resident's account (the _signin.html form, POST /auth/token; the
   token is kept as the staff pages keep theirs). Each report links to its tracking page,
   which shows the resident what they sent (the server knows the token's account). */
"use strict";
(function () {
  var t = gg.t;
  var lang = gg.config.lang;
  var colon = lang === "en" ? ": " : "：";

  function byId(id) { return document.getElementById(id); }


  function line(parent, text, className) {
    var p = document.createElement("p");
    p.textContent = text;
    if (className) { p.className = className; }
    parent.appendChild(p);
  }

  function showSignedOut() {
    byId("login").hidden = false;
    byId("mine").hidden = true;
  }

  function showReports(items) {
    var list = byId("mine-list");
    list.textContent = "";
    items.forEach(function (r) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = "/track/" + encodeURIComponent(r.tracking_number) + "?lang=" + lang;
      link.textContent = r.tracking_number;
      item.appendChild(link);
      line(item, gg.labelOf(r.category));
      line(item, t.status + colon + gg.statusLabel(r.status));
      line(item, t.idx_mine_reported + colon + gg.dateTime(r.created_at));
      if (r.status === "closed" && !r.rated) { line(item, t.idx_mine_rate, "mine-rate"); }
      list.appendChild(item);
    });
    byId("mine-status").textContent = items.length ? "" : t.idx_mine_empty;
  }

  function showNotices(items) {
    var list = byId("notices");
    list.textContent = "";
    items.forEach(function (n) {
      var item = document.createElement("li");
      var status = n.payload && n.payload.status;
      var alert = { "alert.new_hazard": t.fol_notice_new, "alert.result": t.fol_notice_result }[n.topic];
      if (alert) {  // an area alert (my_alerts.js): public fields only
        line(item, gg.format(alert, { area: n.payload.area || "", number: n.tracking_number || "",
          label: gg.labelOf(n.payload) }));
      } else {
        line(item, status ? gg.format(t.idx_notice_status,
          { number: n.tracking_number || "", status: gg.statusLabel(status) })
          : (n.tracking_number || "") + " · " + n.topic);
      }
      line(item, gg.dateTime(n.created_at));
      list.appendChild(item);
    });
    if (!items.length) {  // a list holds only items
      var none = document.createElement("li");
      line(none, t.idx_mine_no_notices);
      list.appendChild(none);
    }
  }

  function load() {
    if (!gg.staff.token()) { showSignedOut(); return; }
    byId("login").hidden = true;
    byId("mine").hidden = false;
    gg.staff.get("/auth/me").then(function (me) {
      if (!me.ok) { showSignedOut(); return; }
      byId("mine-who").textContent = t.idx_mine_signed_in + me.body.display_name;
      if (me.body.role !== "resident") {
        byId("mine-status").textContent = t.idx_mine_not_resident;
        return;
      }
      gg.staff.get("/reports/mine").then(function (res) {
        if (res.ok) { showReports(res.body.items); } else { byId("mine-status").textContent = gg.errorText(res.body); }
      });
      gg.staff.get("/inbox?limit=20").then(function (res) {
        if (res.ok) { showNotices(res.body.items); }
      });
    }, function () { byId("mine-status").textContent = t.network; });
  }

  gg.staff.wireSignIn(byId("login"), byId("login-error"), function () {
    load();
    byId("mine-heading").focus();
  });
  byId("logout").addEventListener("click", function () { gg.staff.signOut(); });
  gg.staff.onSignedOut(showSignedOut);
  load();
})();
