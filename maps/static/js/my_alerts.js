/* Area alerts on /my-reports: follow a community (POST /alerts) by notice or text
   message, list mine (GET /alerts) and stop one (DELETE /alerts/{id}); the communities
   come from the public region tree (GET /regions). Runs beside my_reports.js, with the
   same signed-in resident's token. */
"use strict";
(function () {
  var t = gg.t;
  var lang = gg.config.lang;

  function byId(id) { return document.getElementById(id); }

  if (/[?&]unsubscribed=1(&|$)/.test(window.location.search)) { byId("unsubscribed").hidden = false; }

  /* Every community in the tree, named with its street: "测试街道 · 甲社区". */
  function communities(nodes, street, out) {
    nodes.forEach(function (n) {
      if (n.level === "community") { out.push({ code: n.code, name: (street ? street + " · " : "") + n.name }); }
      communities(n.children || [], n.level === "street" ? n.name : street, out);
    });
    return out;
  }

  function fillCommunities() {
    return fetch("/regions", { headers: { "Accept": "application/json" } })
      .then(function (res) { return res.ok ? res.json() : []; })
      .then(function (tree) {
        var select = byId("alert-community");
        communities(tree, "", []).forEach(function (c) {
          var option = document.createElement("option");
          option.value = c.code;
          option.textContent = c.name;
          select.appendChild(option);
        });
      });
  }

  function showAlerts(items) {
    var list = byId("alert-list");
    list.textContent = "";
    items.forEach(function (a) {
      var item = document.createElement("li");
      var name = a.name || a.region_code || a.cell_code;
      var p = document.createElement("p");
      p.textContent = name + " · " + (a.channel === "sms" ? t.fol_alerts_sms + " " + (a.phone || "") : t.fol_alerts_inbox);
      item.appendChild(p);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = gg.format(t.fol_alerts_remove, { name: name });
      remove.addEventListener("click", function () {
        gg.staff.api("DELETE", "/alerts/" + a.id).then(function (res) {
          if (res.ok || res.status === 404) {
            byId("alert-status").textContent = gg.format(t.fol_alerts_removed, { name: name });
            load();
            byId("alert-community").focus();
          } else { byId("alert-error").textContent = gg.errorText(res.body); }
        });
      });
      item.appendChild(remove);
      list.appendChild(item);
    });
    if (!items.length) {
      var none = document.createElement("li");
      none.textContent = t.fol_alerts_none;
      list.appendChild(none);
    }
  }

  function load() {
    return gg.staff.get("/alerts").then(function (res) {
      byId("alerts").hidden = !res.ok;
      if (res.ok) { showAlerts(res.body.items); }
    });
  }

  var started = false;
  function start() {
    if (started || !gg.staff.token()) { return; }
    started = true;
    fillCommunities();
    load();
  }

  function channel() { return byId("alert-sms").checked ? "sms" : "inbox"; }
  [byId("alert-inbox"), byId("alert-sms")].forEach(function (radio) {
    radio.addEventListener("change", function () { byId("alert-phone-field").hidden = channel() !== "sms"; });
  });

  byId("alert-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var select = byId("alert-community");
    var error = byId("alert-error");
    error.textContent = "";
    select.removeAttribute("aria-invalid");
    byId("alert-phone").removeAttribute("aria-invalid");
    if (!select.value) {
      error.textContent = t.fol_alerts_pick;
      select.setAttribute("aria-invalid", "true");
      select.focus();
      return;
    }
    var body = { region_code: select.value, channel: channel() };
    var phone = byId("alert-phone").value.trim();
    if (body.channel === "sms" && phone) { body.phone = phone; }
    gg.staff.api("POST", "/alerts", { json: body }).then(function (res) {
      if (res.ok) {
        byId("alert-status").textContent = gg.format(t.fol_alerts_followed, { name: res.body.name });
        load();
        return;
      }
      var field = res.body && res.body.error && res.body.error.fields && res.body.error.fields[0];
      error.textContent = gg.errorText(res.body);
      var target = field && field.field === "phone" ? byId("alert-phone") : select;
      target.setAttribute("aria-invalid", "true");
      target.focus();
    }, function () { error.textContent = t.network; });
  });

  // my_reports.js shows the signed-in part; start once it is shown (now, or after sign-in).
  new MutationObserver(function () { if (!byId("mine").hidden) { start(); } })
    .observe(byId("mine"), { attributes: true, attributeFilter: ["hidden"] });
  if (!byId("mine").hidden) { start(); }
})();
