/* The report form: a category (with its extra questions), a pin (map click or drag, the
   map centre, the device's location or an address from the register; by keyboard, the
   arrow keys on the map then Enter at the crosshair, or the arrow keys on the pin) told
   back in words (GET /lookup/place: the address or road, the cell and who looks after
   it), a description, photos and an optional phone; checked here against the server's own limits (page
   config `limits`), sent to POST /reports as a multipart form, the server's errors shown
   next to their field. On success the tracking number and the secret are shown and the
   secret is kept in localStorage under gridgov.report.<number> for the /track page.
   Without the map: the place from lists (compound -> building -> unit; report-lists.js),
   filed at that building with the unit in the address. Each category's minimum content
   (description, photo or either) is checked before sending, as the server does.
   Elder mode (html.elder, elder.js): category tiles with pictures, the map behind a
   button, one photo; the same form underneath. */
"use strict";
(function () {
  var t = gg.t;
  var lang = gg.config.lang;
  var limits = gg.config.limits;
  // A self-service terminal (kiosk.js): no sign-in, no links out, and the secret is never
  // kept on the device (the next visitor would find it).
  var kiosk = gg.config.kiosk;
  var SECRET_KEY_PREFIX = "gridgov.report.";
  // GPS fixes less precise than this (metres) are shown whole and flagged for checking.
  var COARSE_FIX_M = 100;
  var PIN_ZOOM = 18;
  // The pin moves this far per arrow key (Shift: five times), in screen pixels.
  var PIN_STEP_PX = 10;
  // Arrow keys repeat: the place is looked up once they pause.
  var KEY_PAUSE_MS = 400;
  var form = document.getElementById("report-form");
  var select = document.getElementById("category");
  var pinText = document.getElementById("pin-text");
  var pinCoords = document.getElementById("pin-coords");
  var gpsStatus = document.getElementById("gps-status");
  var addressInput = document.getElementById("address");
  var description = document.getElementById("description");
  var phone = document.getElementById("contact_phone");
  var button = document.getElementById("submit");
  var phonePattern = new RegExp(limits.phonePattern);
  var map = makeMap();
  var marker = null;
  var pinAt = null;  // the pin, {lon, lat} in WGS-84
  var accuracy = null;  // the GPS fix's {lon, lat, metres}, drawn as a circle
  var building = null;  // the register building chosen by search or the lists, while the pin is on it
  var lists = null;  // the compound -> building -> unit lists (gg.placeLists)
  var categories = {};
  var questions = [];
  var assets = gg.assetPicker({ box: document.getElementById("assets"),
                                list: document.getElementById("asset-list") });
  var nearby = gg.nearbyReports({
    box: document.getElementById("nearby"), list: document.getElementById("nearby-list"),
    phoneField: document.getElementById("nearby-phone-field"),
    phoneInput: document.getElementById("nearby-phone"),
    phoneError: document.getElementById("nearby-phone-error") });
  var retryKey = newRetryKey();
  // Staff signed in on this browser file for a resident (phone call, walk-in, a
  // neighbour): the channel they choose is recorded with their account.
  var behalf = document.getElementById("on-behalf");
  var staffToken = !kiosk && gg.staff && gg.staff.token();
  if (behalf && staffToken) { behalf.hidden = false; }

  function behalfChannel() {
    // A self-service terminal (政务服务一体机) files on its own channel.
    if (kiosk) { return "terminal"; }
    if (!behalf || behalf.hidden) { return "web"; }
    var chosen = behalf.querySelector("input[name=behalf_channel]:checked");
    return chosen ? chosen.value : "web";
  }
  /* Staff filing for a resident (a staff channel was chosen). */
  function filedForSomeone() { return !kiosk && behalfChannel() !== "web"; }
  var photoInput = document.getElementById("photos");
  // The picker reads its limit from here on every pick: elder mode takes one photo.
  var photoLimits = Object.assign({}, limits);
  var photos = photoInput
    ? gg.photoPicker(photoInput, document.getElementById("photo-list"), photoLimits,
                     function (message) { showError("photos", message); })
    : { files: function () { return []; }, problem: function () { return ""; },
        clear: function () {} };
  // Where the server's field names are shown in this form.
  var FIELD_ERRORS = { category: "category", lon: "location", lat: "location",
                       location: "location", coord_system: "location", building_id: "location",
                       address: "address", description: "description",
                       contact_phone: "contact_phone", photos: "photos",
                       contact_name: "contact_name", channel: "channel",
                       asset_code: "asset_code" };

  function chars(text) { return Array.from(text).length; }

  /* A key that makes a resubmission after a lost answer safe (no second report). */
  function newRetryKey() { return "web-" + gg.staff.newKey(); }

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


  function rangeHint(q) {
    if (q.min === undefined && q.max === undefined) { return ""; }
    return gg.format(t.rep_number_range, { min: q.min === undefined ? "" : q.min,
                                           max: q.max === undefined ? "" : q.max });
  }

  /* One question as a form control: yes/no radios, a number, a choice or a text. */
  function questionField(q) {
    var id = "q-" + q.key;
    var errorId = id + "-error";
    var label = gg.labelOf(q) + (q.required ? " " + t.rep_required : "");
    var wrap;
    if (q.type === "boolean") {
      wrap = gg.el("fieldset", { "class": "field question" });
      wrap.appendChild(gg.el("legend", {}, label));
      [["true", t.rep_yes, id], ["false", t.rep_no, id + "-no"]].forEach(function (option) {
        var choice = gg.el("label", { "class": "inline" });
        choice.appendChild(gg.el("input", { type: "radio", name: id, value: option[0],
                                              id: option[2], "aria-describedby": errorId }));
        choice.appendChild(document.createTextNode(option[1]));
        wrap.appendChild(choice);
      });
    } else {
      wrap = gg.el("div", { "class": "field question" });
      wrap.appendChild(gg.el("label", { "for": id }, label));
      var describedBy = errorId;
      var control;
      if (q.type === "choice") {
        control = gg.el("select", { id: id });
        control.appendChild(gg.el("option", { value: "" }, t.rep_choose));
        q.choices.forEach(function (c) {
          control.appendChild(gg.el("option", { value: c.value }, gg.labelOf(c)));
        });
      } else if (q.type === "number") {
        control = gg.el("input", { id: id, type: "number", inputmode: "decimal", step: "any" });
        if (q.min !== undefined) { control.setAttribute("min", q.min); }
        if (q.max !== undefined) { control.setAttribute("max", q.max); }
        var hint = rangeHint(q);
        if (hint) {
          wrap.appendChild(gg.el("p", { "class": "hint", id: id + "-hint" }, hint));
          describedBy = id + "-hint " + errorId;
        }
      } else {
        control = gg.el("input", { id: id, type: "text" });
      }
      control.setAttribute("aria-describedby", describedBy);
      if (q.required) { control.setAttribute("aria-required", "true"); }
      wrap.appendChild(control);
    }
    wrap.appendChild(gg.el("p", { "class": "error", id: errorId, "aria-live": "polite" }));
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

  function minContent(category) { return (category && category.min_content) || "none"; }

  function onCategoryChange() {
    var category = categories[select.value];
    showQuestions(category);
    document.getElementById("emergency").hidden = !(category && category.emergency);
    showError("category", "");
    var tile = document.querySelector("#tile-list input[value=\"" + select.value + "\"]");
    if (tile) { tile.checked = true; }
    var need = document.getElementById("description-need");
    var rule = minContent(category);
    need.hidden = rule === "none";
    need.textContent = rule === "none" ? "" : t["rep_need_" + rule];
    lookAround(0);
  }

  // ---- elder mode's category tiles ----

  function iconOf(code) { return "/static/icons/cat-" + code.replace(".", "-") + ".svg"; }

  /* One radio tile per category the select offers, with its picture and name. */
  function buildTiles() {
    var list = document.getElementById("tile-list");
    Array.prototype.forEach.call(select.options, function (option) {
      if (!option.value) { return; }
      var tile = gg.el("label", { "class": "rep-tile" });
      var radio = gg.el("input", { type: "radio", name: "category-tile", value: option.value,
                                     "aria-describedby": "category-error" });
      radio.addEventListener("change", function () {
        select.value = option.value;
        onCategoryChange();
      });
      var icon = gg.el("img", { src: iconOf(option.value), alt: "", width: "64", height: "64" });
      // A category added later without its own picture still gets one.
      icon.addEventListener("error", function () {
        if (icon.src.indexOf("cat-community-other") < 0) { icon.src = iconOf("community.other"); }
      }, { once: true });
      tile.appendChild(radio);
      tile.appendChild(icon);
      tile.appendChild(gg.el("span", {}, option.textContent));
      list.appendChild(tile);
    });
  }

  // ---- the map (MapLibre on gridgov's base map) ----

  /* The map, or null where the browser cannot draw it (GPS and address search remain). */
  function makeMap() {
    var box = document.getElementById("map");
    if (!gg.mapgl.supported()) {
      box.classList.add("rep-no-map");
      box.textContent = t.rep_map_unsupported;
      document.getElementById("use-centre").hidden = true;
      return null;
    }
    var made = gg.mapgl.make("map");
    // The canvas is the focusable map: name it in the page's language and tie it to the
    // hint (how to use it by keyboard) and to the location's error.
    var canvas = made.getCanvas();
    canvas.setAttribute("aria-label", t.rep_map_label);
    canvas.setAttribute("aria-describedby", "location-hint location-error");
    made.on("load", function () { addAccuracyLayers(made); drawAccuracy(); });
    gg.currentMap = made;  // for the browser tests
    return made;
  }

  var ACCURACY = "rep-accuracy";
  function addAccuracyLayers(m) {
    m.addSource(ACCURACY, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    var below = m.getLayer(gg.mapgl.labelsLayer) ? gg.mapgl.labelsLayer : undefined;
    m.addLayer({ id: ACCURACY + "-fill", type: "fill", source: ACCURACY,
                 paint: { "fill-color": "#1d4ed8", "fill-opacity": 0.12 } }, below);
    m.addLayer({ id: ACCURACY + "-line", type: "line", source: ACCURACY,
                 paint: { "line-color": "#1d4ed8", "line-width": 1.5 } }, below);
  }

  /* A circle of `metres` around lon/lat as a GeoJSON polygon (64 sides; metres to
     degrees on the sphere is plenty for a GPS fix's accuracy). */
  function circle(lon, lat, metres) {
    var dLat = metres / 6378137 * 180 / Math.PI;
    var dLon = dLat / Math.max(Math.cos(lat * Math.PI / 180), 0.01);
    var ring = [];
    for (var i = 0; i <= 64; i++) {
      var a = 2 * Math.PI * i / 64;
      ring.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)]);
    }
    return { type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [ring] } };
  }

  function drawAccuracy() {
    var source = map && map.getSource(ACCURACY);
    if (!source) { return; }  // drawn when the style has loaded
    source.setData({ type: "FeatureCollection",
                     features: accuracy ? [circle(accuracy.lon, accuracy.lat, accuracy.metres)] : [] });
  }

  function centre() {
    if (map) { var c = map.getCenter().wrap(); return { lon: c.lng, lat: c.lat }; }
    var e = gg.config.extent;
    return pinAt || { lon: (e[0] + e[2]) / 2, lat: (e[1] + e[3]) / 2 };
  }

  function zoomTo(lon, lat) {
    if (map) { map.jumpTo({ center: [lon, lat], zoom: Math.max(map.getZoom(), PIN_ZOOM) }); }
  }

  /* The pin's marker: focusable; the arrow keys move it, Enter confirms its place. */
  function pinElement() {
    var el = document.createElement("div");
    el.className = "rep-pin";
    el.tabIndex = 0;
    el.setAttribute("aria-label", t.rep_pin_label);
    el.setAttribute("aria-describedby", "pin-text");
    // A click on the pin is not a click on the map beside it (the pin would jump).
    el.addEventListener("click", function (e) { e.stopPropagation(); });
    el.addEventListener("keydown", function (e) {
      var moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
      var move = moves[e.key];
      if (move) {
        e.preventDefault();
        e.stopPropagation();  // the map's own keyboard handler would pan instead
        var step = e.shiftKey ? PIN_STEP_PX * 5 : PIN_STEP_PX;
        var at = map.project(marker.getLngLat());
        var to = map.unproject([at.x + move[0] * step, at.y + move[1] * step]);
        place(to.lng, to.lat, "key");
        if (!map.getBounds().contains(to)) { map.panTo(to, { duration: 0 }); }
      } else if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        e.stopPropagation();
        describePin(0);
      }
    });
    return el;
  }

  // ---- the pin ----

  function forgetBuilding() {
    if (!building) { return; }
    if (lists) { lists.forget(); }
    // The address text came from the register: it would now describe another place.
    if (addressInput.value.trim() === building.address) { addressInput.value = ""; }
    building = null;
  }

  /* Put the pin at lon/lat; `how` is "map", "key", "gps" or "address". */
  function place(lon, lat, how) {
    lon = ((lon + 540) % 360 + 360) % 360 - 180;
    pinAt = { lon: lon, lat: lat };
    if (map && !marker) {
      marker = new maplibregl.Marker({ element: pinElement(), draggable: true, anchor: "bottom" })
        .setLngLat([lon, lat]).addTo(map);
      marker.on("dragend", function () {
        var ll = marker.getLngLat();
        place(ll.lng, ll.lat, "map");
      });
    } else if (marker) {
      marker.setLngLat([lon, lat]);
    }
    if (how !== "address") { forgetBuilding(); }
    if (how !== "gps") {
      accuracy = null;
      drawAccuracy();
      setGpsStatus("", false);
    }
    showError("location", "");
    describePin(how === "key" ? KEY_PAUSE_MS : 0);
    lookAround(how === "key" ? KEY_PAUSE_MS : 0);
  }

  var aroundTimer = null;
  /* What is near the place for this category, once both are known: city assets to
     pick (report-assets.js) and open reports to follow instead (report-nearby.js). */
  function lookAround(delay) {
    clearTimeout(aroundTimer);
    aroundTimer = setTimeout(function () {
      assets.update(select.value, pinAt);
      nearby.update(select.value, pinAt);
    }, delay);
  }

  var describeTimer = null;
  var described = 0;  // only the newest pin's answer is shown
  /* Say where the pin is, in words, after `delay` ms: the coordinates at once, then the
     address or road, the cell and who looks after it. */
  function describePin(delay) {
    clearTimeout(describeTimer);
    var here = pinAt;
    var mine = ++described;
    pinCoords.textContent = gg.format(t.rep_pin_coords,
                                      { lon: here.lon.toFixed(6), lat: here.lat.toFixed(6) });
    pinText.textContent = t.rep_pin_looking;
    describeTimer = setTimeout(function () {
      gg.getJSON("/lookup/place?lon=" + here.lon.toFixed(7) + "&lat=" + here.lat.toFixed(7))
        .then(function (res) {
          if (mine === described) { pinText.textContent = res.ok ? placeText(res.body) : t.rep_pin_unknown; }
        }, function () {
          if (mine === described) { pinText.textContent = t.rep_pin_unknown; }
        });
    }, delay);
  }

  function placeText(answer) {
    var where = answer.address ? answer.address.address
      : answer.road ? gg.format(t.rep_pin_near_road, { road: answer.road.name })
      : t.rep_pin_spot;
    var sentences = [gg.format(t.rep_pin_place, { where: where })];
    if (answer.cell) {
      var duty = answer.duty;
      var who = duty && duty.name ? gg.format(t.rep_pin_duty_named, { name: duty.name })
        : duty && (duty.level === "primary" || duty.level === "backup") ? t.rep_pin_duty_anon
        : t.rep_pin_duty_area;
      sentences.push(gg.format(t.rep_pin_cell, { cell: answer.cell.name || answer.cell.code, duty: who }));
    } else if (answer.region) {
      sentences.push(gg.format(t.rep_pin_no_cell, { region: answer.region.name }));
    } else {
      sentences.push(t.rep_pin_outside);
    }
    return sentences.join(lang === "en" ? " " : "");
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
      var lon = position.coords.longitude, lat = position.coords.latitude;
      var metres = Math.round(position.coords.accuracy || 0);
      place(lon, lat, "gps");
      // The lists then start from the estates around the resident.
      if (lists && !document.getElementById("pick-compound").value) { lists.load({ lon: lon, lat: lat }); }
      accuracy = { lon: lon, lat: lat, metres: metres };
      drawAccuracy();
      if (map && metres > COARSE_FIX_M) {
        var ring = circle(lon, lat, metres).geometry.coordinates[0];
        var bounds = ring.reduce(function (b, p) { return b.extend(p); },
                                 new maplibregl.LngLatBounds(ring[0], ring[0]));
        map.fitBounds(bounds, { padding: 20, duration: 0 });
      } else {
        zoomTo(lon, lat);
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
    if (lists) { lists.forget(); }
    place(hit.lon, hit.lat, "address");
    building = { id: hit.building_id, address: hit.address };
    addressInput.value = hit.address;
    showError("address", "");
    zoomTo(hit.lon, hit.lat);
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
    if (!pinAt) { found.push(["location", t.no_pin]); }
    if (chars(addressInput.value.trim()) > limits.maxAddress) {
      found.push(["address", gg.format(t.rep_address_too_long, { max: limits.maxAddress })]);
    }
    if (chars(description.value.trim()) > limits.maxDescription) {
      found.push(["description", gg.format(t.rep_description_too_long, { max: limits.maxDescription })]);
    }
    if (photos.problem()) { found.push(["photos", photos.problem()]); }
    var lacking = missingContent();
    if (lacking) { found.push(lacking); }
    var number = phone.value.trim();
    if (number && !phonePattern.test(number)) { found.push(["contact_phone", t.rep_phone_invalid]); }
    return found;
  }

  /* [field, message] when the report lacks what its category needs (categories.toml
     min_content, checked again by the server), else null. */
  function missingContent() {
    var rule = minContent(categories[select.value]);
    var worded = description.value.trim() !== "";
    var pictured = photos.files().length > 0;
    if (rule === "description" && !worded) { return ["description", t.rep_need_description]; }
    if (rule === "photo" && !pictured) { return [photoInput ? "photos" : "description", t.rep_need_photo]; }
    if (rule === "description_or_photo" && !worded && !pictured) {
      return ["description", t.rep_need_description_or_photo];
    }
    return null;
  }

  /* The first control marked invalid that is shown (elder mode hides the select). */
  function focusFirstInvalid() {
    var marked = form.querySelectorAll("[aria-invalid=true]");
    for (var i = 0; i < marked.length; i++) {
      if (marked[i].getClientRects().length) { marked[i].focus(); return; }
    }
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
    body.append("category", select.value);
    body.append("lon", pinAt.lon.toFixed(7));
    body.append("lat", pinAt.lat.toFixed(7));
    // The map and the browser's geolocation are both WGS-84.
    body.append("coord_system", "wgs84");
    body.append("channel", behalfChannel());
    var name = document.getElementById("contact_name");
    if (filedForSomeone() && name && name.value.trim()) {
      body.append("contact_name", name.value.trim());
    }
    [["address", addressInput], ["description", description], ["contact_phone", phone]]
      .forEach(function (field) {
        var value = field[1].value.trim();
        if (value) { body.append(field[0], value); }
      });
    if (building) { body.append("building_id", String(building.id)); }
    if (assets.chosen()) { body.append("asset_code", assets.chosen()); }
    if (Object.keys(answers).length) { body.append("answers", JSON.stringify(answers)); }
    photos.files().forEach(function (file) { body.append("photos", file, file.name); });
    return body;
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
    // Staff filing for a resident send their token; a resident's own report is anonymous.
    gg.staff.api("POST", "/reports", { form: requestBody(answers.values), key: retryKey,
                                       anonymous: !filedForSomeone() })
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
      li.appendChild(kiosk ? gg.el("strong", {}, d.tracking_number)
        : gg.el("a", { href: "/track/" + encodeURIComponent(d.tracking_number) + "?lang=" + lang },
                  d.tracking_number));
      li.appendChild(document.createTextNode("（" + gg.statusLabel(d.status) + "）"));
      list.appendChild(li);
    });
    document.getElementById("duplicates").hidden = !(duplicates && duplicates.length);
  }

  function showResult(answer) {
    var number = answer.tracking_number;
    document.getElementById("tracking-number").textContent = number;
    document.getElementById("secret").textContent = answer.secret;
    var trackLink = document.getElementById("track-link");
    if (trackLink) { trackLink.href = "/track/" + encodeURIComponent(number) + "?lang=" + lang; }
    if (kiosk) { showReceipt(); }
    if (filedForSomeone()) {
      // Staff go on from the report's handling page; the resident is told the number.
      var caseLink = gg.el("a", { href: "/case/" + encodeURIComponent(number) + "?lang=" + lang,
                                    id: "case-link" }, t.rep_behalf_case);
      document.getElementById("track-link").parentNode.appendChild(document.createTextNode(" · "));
      document.getElementById("track-link").parentNode.appendChild(caseLink);
    }
    document.getElementById("secret-saved").textContent = kiosk ? t.ksk_secret_not_kept
      : keepSecret(number, answer.secret) ? t.rep_secret_saved : t.rep_secret_not_saved;
    var copy = document.getElementById("copy-secret");
    // A terminal's clipboard would hand the secret to the next visitor.
    if (!kiosk && navigator.clipboard && window.isSecureContext) {
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

  /* The receipt's category and time (the terminal prints the result section). */
  function showReceipt() {
    var category = categories[select.value];
    document.getElementById("receipt-category").textContent =
      category ? gg.labelOf(category) : select.value;
    document.getElementById("receipt-time").textContent =
      gg.dateTime(new Date());
  }

  // ---- wiring ----

  gg.fillCategories(select).then(function (list) {
    (gg.config.excludedCategories || []).forEach(function (code) {
      var option = select.querySelector("option[value=\"" + code + "\"]");
      if (option) { option.remove(); }
    });
    (list || []).forEach(function (c) { categories[c.code] = c; });
    buildTiles();
    if (select.value) { onCategoryChange(); }  // a value the browser restored
  });

  // ---- elder mode ----

  var mapBox = document.getElementById("map-box");
  var mapToggle = document.getElementById("show-map");
  var photoLabel = document.querySelector("label[for=photos]");
  var photoLabelText = photoLabel && photoLabel.textContent;

  function showMap(open) {
    mapBox.classList.toggle("rep-map-open", open);
    mapToggle.setAttribute("aria-expanded", String(open));
    mapToggle.textContent = open ? t.rep_hide_map : t.rep_show_map;
    if (open && map) { map.resize(); }
  }

  /* Elder mode on or off: one photo, the map behind its button (the rest is CSS). */
  function applyElder() {
    var elder = !!(window.ggElder && window.ggElder.on());
    photoLimits.maxPhotos = elder ? Math.min(1, limits.maxPhotos) : limits.maxPhotos;
    if (photoInput) {
      photoInput.multiple = photoLimits.maxPhotos > 1;
      photoLabel.textContent = elder ? t.rep_photo_one : photoLabelText;
      document.getElementById("photos-hint").textContent = gg.format(t.rep_photos_hint, {
        n: photoLimits.maxPhotos, mb: limits.maxPhotoMb });
    }
    showMap(false);
    if (!elder && map) { map.resize(); }
  }
  mapToggle.addEventListener("click", function () {
    showMap(!mapBox.classList.contains("rep-map-open"));
  });
  document.addEventListener("gg:elder", applyElder);
  applyElder();
  select.addEventListener("change", onCategoryChange);
  if (map) {
    map.on("click", function (e) { place(e.lngLat.lng, e.lngLat.lat, "map"); });
    // Keyboard users pan the map with the arrow keys (MapLibre's own), then pin the
    // crosshair at the centre with Enter.
    map.getCanvas().addEventListener("keydown", function (e) {
      if (e.key === "Enter") {
        e.preventDefault();
        var c = centre();
        place(c.lon, c.lat, "map");
      }
    });
  }
  document.getElementById("use-centre").addEventListener("click", function () {
    var c = centre();
    place(c.lon, c.lat, "map");
  });
  document.getElementById("use-gps").addEventListener("click", useMyLocation);
  gg.addressCombobox({
    input: document.getElementById("address-search"),
    list: document.getElementById("address-results"),
    status: document.getElementById("address-status"),
    minChars: limits.minAddressQuery,
    near: function () { var c = centre(); return c.lon.toFixed(6) + "," + c.lat.toFixed(6); },
    onChoose: chooseAddress
  });
  lists = gg.placeLists({
    compound: document.getElementById("pick-compound"),
    building: document.getElementById("pick-building"),
    unit: document.getElementById("pick-unit"),
    status: document.getElementById("lists-status"),
    onBuilding: function (hit) {
      place(hit.lon, hit.lat, "address");
      building = { id: hit.building_id, address: hit.address };
      addressInput.value = hit.address;
      showError("address", "");
      zoomTo(hit.lon, hit.lat);
    },
    onUnit: function (text) {
      // The unit goes in the address; the report stays filed at the building.
      addressInput.value = text;
      if (building) { building.address = text; }
    }
  });
  lists.load(centre());
  description.addEventListener("input", updateCount);
  form.addEventListener("submit", submit);
})();
