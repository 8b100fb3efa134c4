/* 我也遇到 on a report's tracking page: follow an open report instead of filing it again
   (POST /reports/{number}/followers), as the signed-in resident's account or with a
   mobile number; shows the follower count (a count only). track.js announces each report
   it shows with a "gg:report" event. */
"use strict";
(function () {
  var t = gg.t;
  var number = gg.config.number;
  var OPEN = ["submitted", "assigned", "accepted", "in_progress", "transferred", "reopened"];
  var asResident = false;

  function byId(id) { return document.getElementById(id); }
  function url() { return "/reports/" + encodeURIComponent(number) + "/followers"; }

  function showCount(n) {
    byId("follow-count").textContent = gg.format(t.fol_count, { n: n });
  }

  /* A resident follows as the account; anyone else (no token, or a staff one) by phone. */
  function request(method, json) {
    return gg.staff.api(method, url(), { json: json, anonymous: !asResident });
  }

  var seen = false;
  document.addEventListener("gg:report", function (e) {
    var open = OPEN.indexOf(e.detail.status) >= 0;
    byId("follow").hidden = !open;
    if (!open || seen) { return; }
    seen = true;
    gg.staff.isResident().then(function (resident) {
      asResident = resident;
      byId("follow-phone-field").hidden = resident;
      byId("follow-account").hidden = !resident;
      return request("GET");
    }).then(function (res) {
      if (!res.ok) { return; }
      showCount(res.body.followers);
      if (res.body.following) { byId("follow-done").textContent = t.fol_already; }
    });
  });

  byId("follow-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = byId("follow-phone");
    var error = byId("follow-error");
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    var phone = input.value.normalize("NFKC").trim();
    if (!asResident && !/^\+?[0-9][0-9 ()-]{6,20}$/.test(phone)) {
      error.textContent = t.fol_phone_invalid;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    request("POST", asResident ? {} : { phone: phone }).then(function (res) {
      if (res.ok) {
        showCount(res.body.followers);
        byId("follow-done").textContent = res.status === 201 ? t.fol_done : t.fol_already;
        input.value = "";
        return;
      }
      var field = res.body && res.body.error && res.body.error.fields && res.body.error.fields[0];
      error.textContent = res.status === 409 ? t.fol_closed : res.status === 429 ? t.fol_too_many
        : field && field.field === "phone" ? t.fol_phone_invalid : gg.errorText(res.body);
      if (!asResident) { input.setAttribute("aria-invalid", "true"); input.focus(); }
    }, function () { error.textContent = t.network; });
  });
})();
