/* The report form: a pin on the map, a category, a description, an optional phone;
   sent to POST /reports as JSON; server errors shown next to their field. */
"use strict";
(function () {
  var t = gg.t;
  var form = document.getElementById("report-form");
  var select = document.getElementById("category");
  var pinText = document.getElementById("pin-text");
  var button = document.getElementById("submit");
  var map = gg.makeMap("map");
  var pin = null;
  // Where the server's field names are shown in this form.
  var FIELD_ERRORS = { category: "category", lon: "location", lat: "location",
                       location: "location", description: "description",
                       contact_phone: "contact_phone" };

  function place(latlng) {
    if (pin) { pin.setLatLng(latlng); } else { pin = L.marker(latlng, { keyboard: true, alt: t.location }).addTo(map); }
    pinText.textContent = t.pin_at + latlng.lng.toFixed(6) + ", " + latlng.lat.toFixed(6);
    showError("location", "");
  }

  function showError(field, message) {
    var box = document.getElementById(field + "-error");
    box.textContent = message;
    var input = document.getElementById(field);
    if (input) {
      if (message) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
    }
  }

  function clearErrors() {
    ["category", "location", "description", "contact_phone", "form"].forEach(function (f) { showError(f, ""); });
  }

  function showServerErrors(error) {
    var fields = (error && error.fields) || [];
    var shown = false;
    fields.forEach(function (f) {
      var where = FIELD_ERRORS[f.field];
      if (where) { showError(where, f.reason); shown = true; }
    });
    if (!shown) { showError("form", t.failed + ((error && error.message) || "")); }
    var first = form.querySelector("[aria-invalid=true]");
    if (first) { first.focus(); }
  }

  function submit(event) {
    event.preventDefault();
    clearErrors();
    var bad = false;
    if (!select.value) { showError("category", t.choose_category); bad = true; }
    if (!pin) { showError("location", t.no_pin); bad = true; }
    if (bad) { return; }
    var ll = pin.getLatLng();
    var body = { category: select.value, lon: +ll.lng.toFixed(7), lat: +ll.lat.toFixed(7),
                 channel: "web" };
    var description = document.getElementById("description").value.trim();
    var phone = document.getElementById("contact_phone").value.trim();
    if (description) { body.description = description; }
    if (phone) { body.contact_phone = phone; }
    button.disabled = true;
    button.textContent = t.submitting;
    fetch("/reports", { method: "POST", body: JSON.stringify(body),
                        headers: { "Content-Type": "application/json",
                                   "Accept-Language": gg.config.lang } })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (res) {
        if (!res.ok) { showServerErrors(res.body.error); return; }
        if (!res.body.tracking_number) {  // a fire burning now: the answer says call 119
          showError("form", res.body.message || JSON.stringify(res.body));
          return;
        }
        document.getElementById("tracking-number").textContent = res.body.tracking_number;
        document.getElementById("track-link").href = "/track/" + res.body.tracking_number + "?lang=" + gg.config.lang;
        form.hidden = true;
        var result = document.getElementById("result");
        result.hidden = false;
        result.setAttribute("tabindex", "-1");
        result.focus();
      })
      .catch(function () { showError("form", t.network); })
      .then(function () { button.disabled = false; button.textContent = t.submit; });
  }

  gg.fillCategories(select).then(function () {
    (gg.config.excludedCategories || []).forEach(function (code) {
      var option = select.querySelector("option[value=\"" + code + "\"]");
      if (option) { option.remove(); }
    });
  });
  map.on("click", function (e) { place(e.latlng); });
  document.getElementById("use-centre").addEventListener("click", function () { place(map.getCenter()); });
  form.addEventListener("submit", submit);
})();
