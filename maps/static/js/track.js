/* A report by tracking number: status, the text and photos staff approved for publication,
   the handling result (the verified note, the published after photos), what the reporter
   sent (only with this device's secret), the public timeline and, once closed, the
   reporter's rating (好差评). The rating goes to
   POST /reports/{number}/rating with the secret the report page kept in localStorage
   (gridgov.report.<number>), else the one typed into the secret field; the server's
   errors are shown next to their field. */
"use strict";
(function () {
  var t = gg.t;
  var lang = gg.config.lang;
  var number = gg.config.number;
  var SECRET_KEY = "gridgov.report." + number;
  var DAY_MS = 86400000;
  var FIELDS = ["overall", "timeliness", "convenience", "comment", "secret"];
  var colon = lang === "en" ? ": " : "：";
  var form = byId("rating-form");

  function byId(id) { return document.getElementById(id); }

  function fill(template, n) { return template.replace("{n}", String(n)); }


  function scoreLabel(score) { return t["trk_score_" + score] || String(score); }

  function storedSecret() {
    try {
      return localStorage.getItem(SECRET_KEY) || "";
    } catch (e) {
      return "";  // storage off (private mode, blocked)
    }
  }

  function fact(term, value) {
    if (!value) { return; }
    var dt = document.createElement("dt");
    var dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value;
    byId("track-facts").appendChild(dt);
    byId("track-facts").appendChild(dd);
  }

  function reviewText(review) {
    var parts = [];
    if (review.text === "approved") { parts.push(t.trk_review_text_approved); }
    if (review.text === "rejected") { parts.push(t.trk_review_text_rejected); }
    if (review.photos_published) { parts.push(fill(t.trk_review_photos, review.photos_published)); }
    if (review.photos_withdrawn) { parts.push(fill(t.trk_review_withdrawn, review.photos_withdrawn)); }
    return parts.join(lang === "en" ? "; " : "，");
  }

  function stepText(step) {
    if (step.to) { return gg.statusLabel(step.to); }
    var label = t["trk_k_" + step.kind] || step.kind;
    var detail = step.review ? reviewText(step.review) : "";
    return detail ? label + colon + detail : label;
  }

  function showText(r) {
    var box = byId("report-text");
    var text = byId("description");
    box.hidden = r.description_review === "none";
    text.dataset.state = r.description_review;
    if (r.description) {
      text.textContent = r.description;
      text.className = "description";
    } else {
      text.textContent = r.description_review === "rejected" ? t.trk_text_rejected : t.trk_text_pending;
      text.className = "hint";
    }
  }

  /* Thumbnails into a list: published ones link to their full copy; the reporter's own
     arrive as data: thumbnails only. */
  function fillPhotos(list, photos, altTemplate) {
    list.textContent = "";
    photos.forEach(function (photo, i) {
      var item = document.createElement("li");
      var img = document.createElement("img");
      item.className = "photo-item";
      img.src = photo.thumbnail_url || photo.thumbnail;
      img.alt = fill(altTemplate, i + 1);
      if (photo.url) {
        var link = document.createElement("a");
        link.href = photo.url;
        link.appendChild(img);
        item.appendChild(link);
      } else {
        item.appendChild(img);
      }
      list.appendChild(item);
    });
  }

  function showPhotos(r) {
    byId("report-photos").hidden = r.photos.length === 0;
    fillPhotos(byId("photos"), r.photos, t.trk_photo_alt);
  }

  /* The handling result: the note once verified, the after photos once published. */
  function showHandling(r) {
    var result = r.result || { note: null, photos: [] };
    var note = byId("result-note");
    note.textContent = result.note || "";
    note.hidden = !result.note;
    byId("result-photos").hidden = result.photos.length === 0;
    fillPhotos(byId("result-photos"), result.photos, t.trk_result_photo_alt);
    byId("report-result").hidden = !result.note && result.photos.length === 0;
  }

  /* What the reporter sent, shown only to them (the server checked the secret). */
  function showOwn(r) {
    var own = r.own;
    byId("report-own").hidden = !own;
    if (!own) { return; }
    byId("own-description").textContent = own.description || "";
    byId("own-description").hidden = !own.description;
    byId("own-photos").hidden = own.photos.length === 0;
    fillPhotos(byId("own-photos"), own.photos, t.trk_own_photo_alt);
  }

  function showTimeline(r) {
    var list = byId("timeline");
    list.textContent = "";
    r.timeline.forEach(function (step) {
      var item = document.createElement("li");
      item.dataset.kind = step.kind;
      item.textContent = gg.dateTime(step.at) + " · " + stepText(step);
      list.appendChild(item);
    });
  }

  /* The reporter's own rating, when this device holds the secret. */
  function showOwnRating(secret) {
    fetch("/reports/" + encodeURIComponent(number) + "/rating",
          { headers: { "Accept": "application/json", "Accept-Language": lang,
                       "X-Report-Secret": secret } })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (body) {
        var mine = body && body.ratings.filter(function (g) { return g.kind === "handling"; })[0];
        if (mine) { showResult(mine.overall, false); }
      }, function () { /* the note already says it is rated */ });
  }

  function showRating(r) {
    var note = byId("rating-note");
    byId("rating").hidden = r.status !== "closed";
    form.hidden = true;
    if (r.status !== "closed") { return; }
    var secret = storedSecret();
    if (r.rated) {
      note.textContent = t.trk_rate_done;
      if (secret) { showOwnRating(secret); }
      return;
    }
    var closedAt = r.closed_at ? Date.parse(r.closed_at) : Date.now();
    if (Date.now() > closedAt + gg.config.ratingPeriodDays * DAY_MS) {
      note.textContent = t.trk_rate_over;
      return;
    }
    note.textContent = t.trk_rate_intro;
    byId("secret-saved").hidden = !secret;
    byId("secret-field").hidden = Boolean(secret);
    form.hidden = false;
  }

  function show(r) {
    var status = byId("track-status");
    status.textContent = t.status + colon + gg.statusLabel(r.status);
    status.dataset.status = r.status;
    byId("track-facts").textContent = "";
    fact(t.category, gg.labelOf(r.category));
    fact(t.created_at, gg.dateTime(r.created_at));
    fact(t.resolve_due_at, gg.dateTime(r.resolve_due_at));
    fact(t.trk_closed_at, gg.dateTime(r.closed_at));
    fact(t.cell, r.cell_code);
    byId("track-follows").hidden = !r.follows;
    if (r.follows) {
      byId("follows-link").href = "/track/" + encodeURIComponent(r.follows) + "?lang=" + lang;
      byId("follows-link").textContent = r.follows;
    }
    showText(r);
    showPhotos(r);
    showHandling(r);
    showOwn(r);
    showTimeline(r);
    showRating(r);
    showProofs(r);
    // 我也遇到 (track-follow.js) hears of each report shown.
    document.dispatchEvent(new CustomEvent("gg:report", { detail: r }));
  }

  /* The report; with this device's secret also what the reporter sent. A secret the
     server refuses (403) is not this report's: load the public view instead. */
  function fetchReport(secret) {
    var headers = { "Accept": "application/json", "Accept-Language": lang };
    if (secret) { headers["X-Report-Secret"] = secret; }
    return fetch("/reports/" + encodeURIComponent(number), { headers: headers })
      .then(function (res) {
        if (res.status === 403 && secret) { return fetchReport(""); }
        return res.json().then(function (body) { return { ok: res.ok, status: res.status, body: body }; });
      });
  }

  /* --- the secret, and the reporter's proof without it ----------------------------- */

  /* The secret this device keeps, shown with a copy button; else, while the reporter's
     own view is not shown, the phone-digits form. */
  function showProofs(r) {
    var secret = storedSecret();
    byId("own-secret").hidden = !secret;
    byId("secret-value").textContent = secret;
    byId("phone-proof").hidden = Boolean(secret) || Boolean(r.own);
  }

  byId("secret-copy").addEventListener("click", function () {
    var said = byId("secret-copied");
    var copied = navigator.clipboard && window.isSecureContext
      ? navigator.clipboard.writeText(storedSecret()) : Promise.reject(new Error("no clipboard"));
    copied.then(function () { said.textContent = t.trk_secret_copied; }, function () {
      // Select it, so a long press or Ctrl+C copies it.
      var range = document.createRange();
      range.selectNodeContents(byId("secret-value"));
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      said.textContent = t.trk_secret_copy_failed;
    });
  });

  byId("phone-proof").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = byId("phone-last4");
    var error = byId("phone-error");
    var digits = input.value.replace(/\s+/g, "").normalize("NFKC");
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    if (!/^[0-9]{4}$/.test(digits)) {
      error.textContent = t.trk_phone_invalid;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    fetch("/reports/" + encodeURIComponent(number) + "/reporter-view", {
      method: "POST", body: JSON.stringify({ phone_last4: digits }),
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "Accept-Language": lang }
    }).then(function (res) {
      return res.json().then(function (body) {
        if (res.ok) {
          input.value = "";
          show(body);
          byId("report-own-heading").focus();
          return;
        }
        error.textContent = res.status === 404 ? t.trk_phone_no_match
          : res.status === 429 ? t.trk_phone_too_many : gg.errorText(body);
        input.setAttribute("aria-invalid", "true");
        input.focus();
      });
    }, function () { error.textContent = t.network; });
  });

  function load() {
    return fetchReport(storedSecret()).then(function (res) {
      if (!res.ok) {
        byId("track-status").textContent = res.status === 404 ? t.not_found : gg.errorText(res.body);
        return;
      }
      show(res.body);
    }, function () { byId("track-status").textContent = t.network; });
  }

  /* --- the rating form --------------------------------------------------------------- */

  function control(name) { return name === "overall" ? byId("overall-5") : byId(name); }

  function clearErrors() {
    FIELDS.forEach(function (name) {
      byId(name + "-error").textContent = "";
      if (name !== "overall") { control(name).removeAttribute("aria-invalid"); }
    });
    byId("rating-error").textContent = "";
  }

  function fieldError(name, message) {
    if (FIELDS.indexOf(name) < 0) {
      byId("rating-error").textContent = message;
      return;
    }
    if (name === "secret") {  // a stored secret that failed: let the reporter type one
      byId("secret-field").hidden = false;
      byId("secret-saved").hidden = true;
    }
    byId(name + "-error").textContent = message;
    // Radios take no aria-invalid; their group's description carries the message.
    if (name !== "overall") { control(name).setAttribute("aria-invalid", "true"); }
  }

  function showServerError(status, body) {
    var error = body && body.error;
    if (!error) {
      byId("rating-error").textContent = t.network;
      return;
    }
    if (error.fields && error.fields.length) {
      error.fields.forEach(function (f) {
        var message = error.code === "validation_error" ? error.message + colon + f.reason : error.message;
        fieldError(f.field.split(".")[0], message);
      });
    } else if (status === 403) {
      fieldError("secret", error.message);  // the secret does not match this report
    } else {
      byId("rating-error").textContent = error.message;
    }
    var first = FIELDS.filter(function (name) { return byId(name + "-error").textContent; })[0];
    if (first) { control(first).focus(); }
  }

  function showResult(overall, workOrder) {
    var result = byId("rating-result");
    form.hidden = true;
    byId("rating-note").textContent = "";
    result.textContent = t.trk_rate_thanks + scoreLabel(overall) +
      (workOrder ? (lang === "en" ? " " : "") + t.trk_rate_work_order : "");
    result.dataset.overall = String(overall);
    result.hidden = false;
  }

  function ratingBody() {
    var chosen = form.querySelector("input[name=overall]:checked");
    var body = { overall: chosen ? Number(chosen.value) : null };
    ["timeliness", "convenience"].forEach(function (name) {
      if (byId(name).value) { body[name] = Number(byId(name).value); }
    });
    if (byId("comment").value.trim()) { body.comment = byId("comment").value.trim(); }
    var typed = byId("secret-field").hidden ? "" : byId("secret").value.trim();
    body.secret = typed || storedSecret() || null;
    return body;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    clearErrors();
    var body = ratingBody();
    if (body.overall === null) {
      fieldError("overall", t.trk_rate_choose);
      control("overall").focus();
      return;
    }
    var button = byId("rate-submit");
    button.disabled = true;
    button.textContent = t.trk_rate_sending;
    fetch("/reports/" + encodeURIComponent(number) + "/rating", {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "Accept-Language": lang }
    }).then(function (res) {
      return res.json().then(function (answer) {
        if (res.ok) {
          showResult(answer.overall, Boolean(answer.work_order));
          return load();
        }
        showServerError(res.status, answer);
      });
    }).catch(function () {
      byId("rating-error").textContent = t.network;
    }).then(function () {
      button.disabled = false;
      button.textContent = t.trk_rate_submit;
    });
  });

  load();
})();
