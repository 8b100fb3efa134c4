/* The report form: a category (with its extra questions), a pin (map click or drag, the
   map centre, the device's location or an address from the register), a description,
   photos and an optional phone; checked here against the server's own limits (page
   config `limits`), sent to POST /reports as a multipart form, the server's errors shown
   next to their field. On success the tracking number and the secret are shown and the
   secret is kept in localStorage under gridgov.report.<number> for the /track page. */
"use strict";
(function () {
  var t = gg.t;
  var lang = gg.config.lang;
  var limits = gg.config.limits;
  var SECRET_KEY_PREFIX = "gridgov.report.";
  // GPS fixes less precise than this (metres) are shown whole and flagged for checking.
  var COARSE_FIX_M = 100;
  var PIN_ZOOM = 18;
  var form = document.getElementById("report-form");
  var select = document.getElementById("category");
  var pinText = document.getElementById("pin-text");
  var gpsStatus = document.getElementById("gps-status");
  var addressInput = document.getElementById("address");
  var description = document.getElementById("description");
  var phone = document.getElementById("contact_phone");
  var button = document.getElementById("submit");
  var phonePattern = new RegExp(limits.phonePattern);
  var map = gg.makeMap("map");
  var pin = null;
  var accuracyCircle = null;
  var building = null;  // the register building chosen by address search, while the pin is on it
  var categories = {};
  var questions = [];
  var retryKey = newRetryKey();
  // Staff signed in on this browser file for a resident (phone call, walk-in, a
  // neighbour): the channel they choose is recorded with their account.
  var behalf = document.getElementById("on-behalf");
  var staffToken = gg.staff && gg.staff.token();
  if (behalf && staffToken) { behalf.hidden = false; }

  function behalfChannel() {
    if (!behalf || behalf.hidden) { return "web"; }
    var chosen = behalf.querySelector("input[name=behalf_channel]:checked");
    return chosen ? chosen.value : "web";
  }
  var photoInput = document.getElementById("photos");
  var photos = photoInput
    ? gg.photoPicker(photoInput, document.getElementById("photo-list"), limits,
                     function (message) { showError("photos", message); })
    : { files: function () { return []; }, problem: function () { return ""; },
        clear: function () {} };
  // Where the server's field names are shown in this form.
  var FIELD_ERRORS = { category: "category", lon: "location", lat: "location",
                       location: "location", coord_system: "location", building_id: "location",
                       address: "address", description: "description",
                       contact_phone: "contact_phone", photos: "photos",
                       contact_name: "contact_name", channel: "channel" };

  function chars(text) { return Array.from(text).length; }

  /* A key that makes a resubmission after a lost answer safe (no second report). */
  function newRetryKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "web-" + Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }

  /* The message under a field; every control it describes is marked invalid or valid. */
  function showError(field, message) {
    var box = document.getElementById(field + "-error");
    if (!box) { return; }
    box.textContent = message;
    form.querySelectorAll("[aria-describedby~=\"" + field + "-error\"]").forEach(function (el) {
      if (message) { el.setAttribute("aria-invalid", "true"); } else { el.removeAttribute("aria-invalid"); }
    });
  }

  function clearErrors() {
    form.querySelectorAll(".error[id$=\"-error\"]").forEach(function (box) {
      showError(box.id.slice(0, -"-error".length), "");
    });
  }

  // ---- category and its questions ----

  function questionLabel(item) { return lang === "en" ? item.label_en : item.label_zh; }

  function element(tag, attributes, text) {
    var el = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { el.setAttribute(name, attributes[name]); });
    if (text !== undefined) { el.textContent = text; }
    return el;
  }

  function rangeHint(q) {
    if (q.min === undefined && q.max === undefined) { return ""; }
    return gg.format(t.rep_number_range, { min: q.min === undefined ? "" : q.min,
                                           max: q.max === undefined ? "" : q.max });
  }

  /* One question as a form control: yes/no radios, a number, a choice or a text. */
  function questionField(q) {
    var id = "q-" + q.key;
    var errorId = id + "-error";
    var label = questionLabel(q) + (q.required ? " " + t.rep_required : "");
    var wrap;
    if (q.type === "boolean") {
      wrap = element("fieldset", { "class": "field question" });
      wrap.appendChild(element("legend", {}, label));
      [["true", t.rep_yes, id], ["false", t.rep_no, id + "-no"]].forEach(function (option) {
        var choice = element("label", { "class": "inline" });
        choice.appendChild(element("input", { type: "radio", name: id, value: option[0],
                                              id: option[2], "aria-describedby": errorId }));
        choice.appendChild(document.createTextNode(option[1]));
        wrap.appendChild(choice);
      });
    } else {
      wrap = element("div", { "class": "field question" });
      wrap.appendChild(element("label", { "for": id }, label));
      var describedBy = errorId;
      var control;
      if (q.type === "choice") {
        control = element("select", { id: id });
        control.appendChild(element("option", { value: "" }, t.rep_choose));
        q.choices.forEach(function (c) {
          control.appendChild(element("option", { value: c.value }, questionLabel(c)));
        });
      } else if (q.type === "number") {
        control = element("input", { id: id, type: "number", inputmode: "decimal", step: "any" });
        if (q.min !== undefined) { control.setAttribute("min", q.min); }
        if (q.max !== undefined) { control.setAttribute("max", q.max); }
        var hint = rangeHint(q);
        if (hint) {
          wrap.appendChild(element("p", { "class": "hint", id: id + "-hint" }, hint));
          describedBy = id + "-hint " + errorId;
        }
      } else {
        control = element("input", { id: id, type: "text" });
      }
      control.setAttribute("aria-describedby", describedBy);
      if (q.required) { control.setAttribute("aria-required", "true"); }
      wrap.appendChild(control);
    }
    wrap.appendChild(element("p", { "class": "error", id: errorId, "aria-live": "polite" }));
    return wrap;
  }

  function showQuestions(category) {
    var list = document.getElementById("question-list");
    list.textContent = "";
    questions = (category && category.questions) || [];
    questions.forEach(function (q) { list.appendChild(questionField(q)); });
    document.getElementById("questions").hidden = questions.length === 0;
  }

  /* The answers as the API takes them ({key: value}, unanswered ones left out) and the
     problems found, as [field, message]. */
  function readAnswers() {
    var values = {};
    var problems = [];
    questions.forEach(function (q) {
      var id = "q-" + q.key;
      var value = null;
      if (q.type === "boolean") {
        var checked = form.querySelector("input[name=\"" + id + "\"]:checked");
        value = checked ? checked.value === "true" : null;
      } else {
        var control = document.getElementById(id);
        var raw = control.value.trim();
        if (q.type === "number") {
          if (control.validity && control.validity.badInput) {
            problems.push([id, t.rep_answer_number]);
            return;
          }
          value = raw === "" ? null : Number(raw);
          if (value !== null && (isNaN(value) ||
              (q.min !== undefined && value < q.min) || (q.max !== undefined && value > q.max))) {
            problems.push([id, rangeHint(q) || t.rep_answer_number]);
            return;
          }
        } else {
          value = raw === "" ? null : raw;
          if (value !== null && q.type === "text" && chars(value) > limits.maxTextAnswer) {
            problems.push([id, gg.format(t.rep_text_too_long, { max: limits.maxTextAnswer })]);
            return;
          }
        }
      }
      if (value === null) {
        if (q.required) { problems.push([id, t.rep_answer_required]); }
        return;
      }
      values[q.key] = value;
    });
    return { values: values, problems: problems };
  }

  function onCategoryChange() {
    var category = categories[select.value];
    showQuestions(category);
    document.getElementById("emergency").hidden = !(category && category.emergency);
    showError("category", "");
  }

  // ---- the pin ----

  function forgetBuilding() {
    if (!building) { return; }
    // The address text came from the register: it would now describe another place.
    if (addressInput.value.trim() === building.address) { addressInput.value = ""; }
    building = null;
  }

  function removeAccuracy() {
    if (accuracyCircle) { map.removeLayer(accuracyCircle); accuracyCircle = null; }
  }

  /* Put the pin at `latlng`; `how` is "map", "gps" or "address". */
  function place(latlng, how) {
    latlng = L.latLng(latlng).wrap();
    if (pin) {
      pin.setLatLng(latlng);
    } else {
      pin = L.marker(latlng, { keyboard: true, draggable: true, alt: t.location }).addTo(map);
      pin.on("dragend", function () { place(pin.getLatLng(), "map"); });
    }
    if (how !== "address") { forgetBuilding(); }
    if (how !== "gps") {
      removeAccuracy();
      setGpsStatus("", false);
    }
    pinText.textContent = t.pin_at + latlng.lng.toFixed(6) + ", " + latlng.lat.toFixed(6);
    showError("location", "");
  }

  function setGpsStatus(message, failed) {
    gpsStatus.textContent = message;
    gpsStatus.className = failed ? "error" : "";
  }

  var locating = false;
  /* The device's position (the browser gives WGS-84, as the API expects). */
  function useMyLocation() {
    if (locating) { return; }
    if (!navigator.geolocation || !window.isSecureContext) {
      setGpsStatus(t.rep_gps_unsupported, true);
      return;
    }
    locating = true;
    setGpsStatus(t.rep_gps_locating, false);
    navigator.geolocation.getCurrentPosition(function (position) {
      locating = false;
      var here = L.latLng(position.coords.latitude, position.coords.longitude);
      var metres = Math.round(position.coords.accuracy || 0);
      place(here, "gps");
      removeAccuracy();
      accuracyCircle = L.circle(here, { radius: metres, interactive: false, weight: 1 }).addTo(map);
      if (metres > COARSE_FIX_M) {
        map.fitBounds(accuracyCircle.getBounds());
      } else {
        map.setView(here, Math.max(map.getZoom(), PIN_ZOOM));
      }
      setGpsStatus(gg.format(t.rep_gps_accuracy, { m: metres }) +
                   (metres > COARSE_FIX_M ? " " + t.rep_gps_coarse : ""), false);
    }, function (error) {
      locating = false;
      var messages = { 1: t.rep_gps_denied, 2: t.rep_gps_unavailable, 3: t.rep_gps_timeout };
      setGpsStatus(messages[error.code] || t.rep_gps_unavailable, true);
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 30000 });
  }

  function chooseAddress(hit) {
    place([hit.lat, hit.lon], "address");
    building = { id: hit.building_id, address: hit.address };
    addressInput.value = hit.address;
    showError("address", "");
    map.setView([hit.lat, hit.lon], Math.max(map.getZoom(), PIN_ZOOM));
  }

  // ---- checking and sending ----

  function updateCount() {
    document.getElementById("description-count").textContent =
      gg.format(t.rep_chars_count, { n: chars(description.value.trim()), max: limits.maxDescription });
  }

  /* Every problem the server would refuse, as [field, message], in the form's order. */
  function problems(answers) {
    var found = [];
    if (!select.value) { found.push(["category", t.choose_category]); }
    found = found.concat(answers.problems);
    if (!pin) { found.push(["location", t.no_pin]); }
    if (chars(addressInput.value.trim()) > limits.maxAddress) {
      found.push(["address", gg.format(t.rep_address_too_long, { max: limits.maxAddress })]);
    }
    if (chars(description.value.trim()) > limits.maxDescription) {
      found.push(["description", gg.format(t.rep_description_too_long, { max: limits.maxDescription })]);
    }
    if (photos.problem()) { found.push(["photos", photos.problem()]); }
    var number = phone.value.trim();
    if (number && !phonePattern.test(number)) { found.push(["contact_phone", t.rep_phone_invalid]); }
    return found;
  }

  function focusFirstInvalid() {
    var first = form.querySelector("[aria-invalid=true]");
    if (first) { first.focus(); }
  }

  function fieldOf(name) {
    if (FIELD_ERRORS[name]) { return FIELD_ERRORS[name]; }
    if (/^photos\[\d+\]$/.test(name)) { return "photos"; }
    var answer = /^answers\.(\w+)$/.exec(name || "");
    if (answer && document.getElementById("q-" + answer[1] + "-error")) { return "q-" + answer[1]; }
    return null;
  }

  // Our own wording for the server's schema errors (its reasons are in English).
  function schemaReason(field) {
    return { category: t.choose_category, contact_phone: t.rep_phone_invalid,
             description: gg.format(t.rep_description_too_long, { max: limits.maxDescription }),
             address: gg.format(t.rep_address_too_long, { max: limits.maxAddress }) }[field];
  }

  function showServerErrors(status, error) {
    if (status === 413 && !(error && error.fields && error.fields.length)) {
      // The whole body was too large (the server's or a proxy's limit): the photos.
      showError("photos", t.rep_photos_too_large);
      focusFirstInvalid();
      return;
    }
    var shown = false;
    ((error && error.fields) || []).forEach(function (f) {
      var where = fieldOf(f.field);
      if (!where) { return; }
      // A domain error has one field and a message in the page's language.
      var message = error.code === "validation_error" ? (schemaReason(where) || f.reason) : error.message;
      showError(where, message);
      shown = true;
    });
    if (!shown) {
      showError("form", t.failed + ((error && error.message) || status));
    }
    focusFirstInvalid();
  }

  function requestBody(answers) {
    var body = new FormData();
    var ll = pin.getLatLng().wrap();
    body.append("category", select.value);
    body.append("lon", ll.lng.toFixed(7));
    body.append("lat", ll.lat.toFixed(7));
    // The map and the browser's geolocation are both WGS-84.
    body.append("coord_system", "wgs84");
    body.append("channel", behalfChannel());
    var name = document.getElementById("contact_name");
    if (behalfChannel() !== "web" && name && name.value.trim()) {
      body.append("contact_name", name.value.trim());
    }
    [["address", addressInput], ["description", description], ["contact_phone", phone]]
      .forEach(function (field) {
        var value = field[1].value.trim();
        if (value) { body.append(field[0], value); }
      });
    if (building) { body.append("building_id", String(building.id)); }
    if (Object.keys(answers).length) { body.append("answers", JSON.stringify(answers)); }
    photos.files().forEach(function (file) { body.append("photos", file, file.name); });
    return body;
  }

  function readAnswer(response) {
    return response.text().then(function (text) {
      var body = null;
      try { body = JSON.parse(text); } catch (e) { body = null; }
      return { status: response.status, ok: response.ok, body: body };
    });
  }

  function submit(event) {
    event.preventDefault();
    clearErrors();
    var answers = readAnswers();
    var found = problems(answers);
    if (found.length) {
      found.forEach(function (p) { showError(p[0], p[1]); });
      showError("form", gg.format(t.rep_fix_fields, { count: found.length }));
      focusFirstInvalid();
      return;
    }
    button.disabled = true;
    button.textContent = t.submitting;
    var headers = { "Accept": "application/json", "Accept-Language": lang,
                    "Idempotency-Key": retryKey };
    var onBehalf = behalfChannel() !== "web" && gg.staff.token();
    if (onBehalf) { headers.Authorization = "Bearer " + gg.staff.token(); }
    fetch("/reports", { method: "POST", body: requestBody(answers.values), headers: headers })
      .then(readAnswer)
      .then(function (res) {
        if (!res.ok) {
          // The server answered, so nothing was stored: the next try is a new request.
          retryKey = newRetryKey();
          showServerErrors(res.status, res.body && res.body.error);
          return;
        }
        if (res.body && res.body.emergency) {  // a fire burning now: call 119
          var box = document.getElementById("emergency");
          box.hidden = false;
          document.getElementById("emergency-text").textContent =
            res.body.instruction[lang] || res.body.instruction["zh-Hans"];
          retryKey = newRetryKey();
          return;
        }
        showResult(res.body);
      })
      .catch(function () { showError("form", t.network); })  // same key: a retry is safe
      .then(function () { button.disabled = false; button.textContent = t.submit; });
  }

  // ---- the answer ----

  function keepSecret(number, secret) {
    try {
      localStorage.setItem(SECRET_KEY_PREFIX + number, secret);
      return localStorage.getItem(SECRET_KEY_PREFIX + number) === secret;
    } catch (e) {
      return false;  // storage off (private mode, full, blocked)
    }
  }

  function showDuplicates(duplicates) {
    var list = document.getElementById("duplicate-list");
    (duplicates || []).forEach(function (d) {
      var li = document.createElement("li");
      var a = element("a", { href: "/track/" + encodeURIComponent(d.tracking_number) + "?lang=" + lang },
                      d.tracking_number);
      li.appendChild(a);
      li.appendChild(document.createTextNode("（" + gg.statusLabel(d.status) + "）"));
      list.appendChild(li);
    });
    document.getElementById("duplicates").hidden = !(duplicates && duplicates.length);
  }

  function showResult(answer) {
    var number = answer.tracking_number;
    document.getElementById("tracking-number").textContent = number;
    document.getElementById("secret").textContent = answer.secret;
    document.getElementById("track-link").href = "/track/" + encodeURIComponent(number) + "?lang=" + lang;
    if (behalfChannel() !== "web") {
      // Staff go on from the report's handling page; the resident is told the number.
      var caseLink = element("a", { href: "/case/" + encodeURIComponent(number) + "?lang=" + lang,
                                    id: "case-link" }, t.rep_behalf_case);
      document.getElementById("track-link").parentNode.appendChild(document.createTextNode(" · "));
      document.getElementById("track-link").parentNode.appendChild(caseLink);
    }
    document.getElementById("secret-saved").textContent =
      keepSecret(number, answer.secret) ? t.rep_secret_saved : t.rep_secret_not_saved;
    var copy = document.getElementById("copy-secret");
    if (navigator.clipboard && window.isSecureContext) {
      copy.hidden = false;
      copy.addEventListener("click", function () {
        navigator.clipboard.writeText(answer.secret).then(function () {
          copy.textContent = t.rep_copied;
        }, function () {});
      });
    }
    showDuplicates(answer.likely_duplicates);
    photos.clear();
    form.hidden = true;
    document.getElementById("result").hidden = false;
    document.getElementById("result-title").focus();
  }

  // ---- wiring ----

  gg.fillCategories(select).then(function (list) {
    (gg.config.excludedCategories || []).forEach(function (code) {
      var option = select.querySelector("option[value=\"" + code + "\"]");
      if (option) { option.remove(); }
    });
    (list || []).forEach(function (c) { categories[c.code] = c; });
    if (select.value) { onCategoryChange(); }  // a value the browser restored
  });
  select.addEventListener("change", onCategoryChange);
  map.on("click", function (e) { place(e.latlng, "map"); });
  // Keyboard users pan the map with the arrow keys, then drop the pin with Enter.
  map.getContainer().addEventListener("keydown", function (e) {
    if (e.key === "Enter" && e.target === map.getContainer()) {
      e.preventDefault();
      place(map.getCenter(), "map");
    }
  });
  document.getElementById("use-centre").addEventListener("click", function () { place(map.getCenter(), "map"); });
  document.getElementById("use-gps").addEventListener("click", useMyLocation);
  gg.addressCombobox({
    input: document.getElementById("address-search"),
    list: document.getElementById("address-results"),
    status: document.getElementById("address-status"),
    minChars: limits.minAddressQuery,
    near: function () { var c = map.getCenter().wrap(); return c.lng.toFixed(6) + "," + c.lat.toFixed(6); },
    onChoose: chooseAddress
  });
  description.addEventListener("input", updateCount);
  form.addEventListener("submit", submit);
})();
