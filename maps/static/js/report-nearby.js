/* Before filing (issue 18): once a category and a place are known, the open reports of
   that category close enough to be the same hazard (GET /reports/nearby, measured from
   each report's public place; what is shown of each is public too: category, status,
   the public place's label, the day filed), each with its tracking page and 我也遇到,
   which follows it instead of filing a duplicate (POST /reports/{number}/followers: a
   signed-in resident as their account, anyone else with a mobile number for SMS). In a
   kiosk the tracking number is plain text (no link out of the flow) and no sign-in is
   used. */
"use strict";
window.gg.nearbyReports = function (opts) {
  var t = gg.t;
  var lang = gg.config.lang;
  var kiosk = !!gg.config.kiosk;
  var box = opts.box;
  var list = opts.list;
  var phoneField = opts.phoneField;  // the wrapper of the follower's phone input
  var phoneInput = opts.phoneInput;
  var phoneError = opts.phoneError;
  var asked = 0;
  var asResident = false;

  function clear() {
    asked++;
    list.textContent = "";
    box.hidden = true;
  }


  function dayText(iso) {
    var parts = iso.split("-");
    return lang === "en" ? iso : gg.format(t.rep_nearby_day, { y: parts[0], m: +parts[1], d: +parts[2] });
  }

  function showPhoneError(message) {
    phoneError.textContent = message;
    if (message) { phoneInput.setAttribute("aria-invalid", "true"); } else { phoneInput.removeAttribute("aria-invalid"); }
  }

  function follow(report, button, status) {
    showPhoneError("");
    var phone = phoneInput.value.normalize("NFKC").trim();
    if (!asResident && !/^\+?[0-9][0-9 ()-]{6,20}$/.test(phone)) {
      showPhoneError(t.rep_nearby_phone_needed);
      phoneInput.focus();
      return;
    }
    button.disabled = true;
    // A resident follows as the account; anyone else (staff, a kiosk) by phone.
    gg.staff.api("POST", "/reports/" + encodeURIComponent(report.tracking_number) + "/followers",
                 { json: asResident ? {} : { phone: phone }, anonymous: !asResident }).then(function (res) {
      if (res.ok) {
        status.textContent = gg.format(res.status === 201 ? t.rep_nearby_followed : t.rep_nearby_already,
                                       { n: res.body.followers });
        button.hidden = true;
        return;
      }
      button.disabled = false;
      var field = res.body && res.body.error && res.body.error.fields && res.body.error.fields[0];
      if (field && field.field === "phone") {
        showPhoneError(t.rep_nearby_phone_needed);
        phoneInput.focus();
      } else {
        status.textContent = res.status === 409 ? t.rep_nearby_closed
          : res.status === 429 ? t.rep_nearby_too_many : gg.errorText(res.body) || t.network;
      }
    }, function () {
      button.disabled = false;
      status.textContent = t.network;
    });
  }

  function item(report) {
    var li = gg.el("li", { "class": "rep-nearby-item" });
    var label = gg.labelOf(report.category);
    li.appendChild(gg.el("p", { "class": "rep-nearby-what" }, label + " · " + gg.statusLabel(report.status)));
    var facts = gg.format(t.rep_nearby_facts, { place: report.place_label || t.rep_nearby_no_place,
                                                day: dayText(report.created_on) });
    if (report.followers) { facts += gg.format(t.rep_nearby_followers, { n: report.followers }); }
    li.appendChild(gg.el("p", {}, facts));
    var number = report.tracking_number;
    var line = gg.el("p", {});
    line.appendChild(document.createTextNode(t.submitted));
    if (kiosk) {
      line.appendChild(gg.el("strong", {}, number));
    } else {
      line.appendChild(gg.el("a", { href: "/track/" + encodeURIComponent(number) + "?lang=" + lang }, number));
    }
    li.appendChild(line);
    var status = gg.el("p", { "class": "rep-nearby-status", "aria-live": "polite" });
    var button = gg.el("button", { type: "button", "class": "secondary rep-follow",
                                     "aria-label": gg.format(t.rep_nearby_follow_label, { number: number }) },
                         t.rep_nearby_follow);
    button.addEventListener("click", function () { follow(report, button, status); });
    li.appendChild(button);
    li.appendChild(status);
    return li;
  }

  /* Ask again for this category and place; either missing clears the list. */
  function update(category, at) {
    if (!category || !at) { clear(); return; }
    var mine = ++asked;
    gg.getJSON("/reports/nearby?category=" + encodeURIComponent(category) +
               "&lon=" + at.lon.toFixed(7) + "&lat=" + at.lat.toFixed(7))
      .then(function (res) {
        if (mine !== asked) { return; }
        var found = (res.ok && res.body && res.body.open_reports) || [];
        if (!found.length) { clear(); return; }
        list.textContent = "";
        found.forEach(function (r) { list.appendChild(item(r)); });
        box.hidden = false;
      }, function () { if (mine === asked) { clear(); } });
  }

  // Enter in the phone box is not the report's submit.
  phoneInput.addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      e.preventDefault();
      var first = list.querySelector("button.rep-follow:not([hidden])");
      if (first) { first.focus(); }
    }
  });
  // A kiosk never follows as whoever signed in on the terminal's browser.
  (kiosk ? Promise.resolve(false) : gg.staff.isResident()).then(function (resident) {
    asResident = resident;
    phoneField.hidden = resident;
  });

  return { update: update, clear: clear };
};
