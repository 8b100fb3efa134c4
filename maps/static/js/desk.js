/* The managers' desk: sign in (one staff session per browser, gg.staff), then the area's
   report lists (area, queue, overdue, escalated, to verify; narrowed to a cell or region
   by ?cell= or ?region=, as the coverage map links them) with assignment one by one or in
   bulk (workers listed with their open load), verification (close) and sending back;
   extension decisions; publication review with the automatic masks highlighted; the
   好差评 desk (bad-rating work orders and their revisits, rating flags for a second
   manager). Every action's result or error is said in one live region. */
"use strict";
(function () {
  var t = gg.t;
  var config = gg.config;
  var staff = gg.staff;
  var MANAGER_ROLES = ["community_manager", "street_manager", "district_manager", "admin"];
  var CONTACT_METHODS = ["phone", "visit", "wechat", "sms"];
  var PAGE = 50;
  var PLACE_PAGE = 200;  // a region is filtered here, in pages of the area list
  // The redaction masks are bracketed markers ending 已隐去 (incidents/redaction.py).
  var MASK = /(\[[^\[\]]{1,12}已隐去\])/;

  var el = function (id) { return document.getElementById(id); };
  var loginForm = el("login");
  var loginError = el("login-error");
  var desk = el("desk");
  var refused = el("desk-refused");
  var live = el("desk-live");
  var listBody = el("list");
  var listStatus = el("list-status");
  var moreButton = el("more");
  var bulkCount = el("bulk-count");
  var selectAll = el("select-all");

  var query = new URLSearchParams(location.search);
  var place = {
    cell: /^[0-9]{15}$/.test(query.get("cell") || "") ? query.get("cell") : null,
    region: /^[0-9]{6}([0-9]{3}){0,2}$/.test(query.get("region") || "") ? query.get("region") : null
  };
  var state = { list: "area", next: null, workers: [], cells: null, rows: 0 };
  var request = 0;  // answers for an earlier list request (or another account) are dropped

  function fmt(key, values) { return gg.format(t[key], values || {}); }

  function when(iso) {
    return gg.dateTime(iso) || t.desk_no_due;
  }


  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function button(label, onClick, className) {
    var b = make("button", className, label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  var nextId = 0;
  /* A labelled control: the label's text, the control, wrapped in a div. */
  function field(labelText, control, hideLabel) {
    var wrap = make("div", "desk-field");
    control.id = control.id || "desk-f" + (++nextId);
    var label = make("label", hideLabel ? "visually-hidden" : "", labelText);
    label.htmlFor = control.id;
    wrap.appendChild(label);
    wrap.appendChild(control);
    return wrap;
  }

  function caseLink(number) {
    var a = make("a", "desk-case", number);
    a.href = "/case/" + encodeURIComponent(number) + "?lang=" + config.lang;
    return a;
  }

  /* Say what happened, in the live region (errors marked, not only coloured). */
  function say(message, isError) {
    live.classList.toggle("desk-live-error", !!isError);
    // Cleared first, so the same message twice is still announced.
    live.textContent = "";
    window.setTimeout(function () { live.textContent = message; }, 30);
  }

  function failure(res) {
    var text = gg.errorText(res.body);
    var fields = res.body && res.body.error && res.body.error.fields;
    if (fields && fields.length) {
      text += " (" + fields.map(function (f) { return f.reason || f.field; }).join("; ") + ")";
    }
    return t.desk_failed + (text || res.status);
  }

  function post(url, body) {
    return staff.api("POST", url, { json: body, key: staff.newKey() });
  }

  /* Run one action: busy while it runs, then the result or error said. */
  function act(control, send, done) {
    control.disabled = true;
    send().then(function (res) {
      control.disabled = false;
      if (res.status === 401) { return; }
      done(res);
    }, function () { control.disabled = false; say(t.network, true); });
  }

  // --- sign-in and sections ---------------------------------------------------------------

  function signOut(message) {
    request++;
    desk.hidden = true;
    refused.hidden = true;
    loginForm.hidden = false;
    loginError.textContent = message || "";
    listBody.textContent = "";
  }

  function showSection(name) {
    Array.prototype.forEach.call(document.querySelectorAll(".desk-sections button"), function (b) {
      if (b.dataset.section === name) { b.setAttribute("aria-current", "true"); }
      else { b.removeAttribute("aria-current"); }
    });
    Array.prototype.forEach.call(document.querySelectorAll(".desk-panel"), function (p) {
      p.hidden = p.id !== "panel-" + name;
    });
  }

  function badge(id, count) { el(id).textContent = count ? "(" + count + ")" : ""; }

  function start() {
    loginForm.hidden = true;
    staff.get("/auth/me").then(function (res) {
      if (!res.ok) { signOut(res.status === 401 ? "" : gg.errorText(res.body)); return; }
      var me = res.body;
      if (MANAGER_ROLES.indexOf(me.role) < 0) {
        desk.hidden = true;
        refused.hidden = false;
        el("desk-not-manager").focus();
        return;
      }
      refused.hidden = true;
      desk.hidden = false;
      el("desk-who").textContent = fmt("desk_signed_in_as", {
        name: me.display_name, region: me.region ? me.region.name : "—" });
      loadArea().then(function () { loadList(false); });
      loadExtensions();
      loadReviews();
      loadRatings();
    }, function () { signOut(t.network); });
  }

  // --- lists --------------------------------------------------------------------------------

  /* The area (the ?region= one, else the manager's own): its cells and its workers. */
  function loadArea() {
    var url = "/desk/area" + (place.region ? "?region=" + place.region : "");
    return staff.get(url).then(function (res) {
      if (!res.ok) { say(failure(res), true); return; }
      state.workers = res.body.workers;
      fillWorkers(el("bulk-worker"));
      if (place.region) {
        state.cells = {};
        res.body.cells.forEach(function (code) { state.cells[code] = true; });
        el("place-text").textContent = fmt("desk_filter_region", {
          name: res.body.region.name, code: res.body.region.code }) +
          (res.body.cells_truncated ? " · " + t.desk_place_truncated : "");
      }
    }, function () { say(t.network, true); });
  }

  function fillWorkers(select) {
    var chosen = select.value;
    select.textContent = "";
    var none = make("option", null, t.desk_choose_worker);
    none.value = "";
    select.appendChild(none);
    state.workers.forEach(function (w) {
      var option = make("option", null, fmt("desk_worker_option", {
        name: w.display_name, username: w.username, load: w.open_load }));
      option.value = w.username;
      select.appendChild(option);
    });
    select.value = chosen;
  }

  function listUrl(after) {
    var p = new URLSearchParams();
    var view = state.list === "queue" || state.list === "escalated" ? state.list : "area";
    p.set("view", view);
    p.set("limit", String(place.region ? PLACE_PAGE : PAGE));
    var status = el("filter-status").value;
    if (state.list === "verify") { p.append("status", "resolved"); }
    else if (status) { p.append("status", status); }
    if (el("filter-category").value) { p.set("category", el("filter-category").value); }
    if (state.list === "overdue" || el("filter-overdue").checked) { p.set("overdue", "true"); }
    if (place.cell) { p.set("cell", place.cell); }
    if (after) { p.set("after", after); }
    return "/incidents?" + p.toString();
  }

  function loadList(more) {
    var mine = ++request;
    if (!more) {
      delete listBody.dataset.list;
      listStatus.textContent = t.loading;
      state.next = null;
    }
    return staff.get(listUrl(more ? state.next : null)).then(function (res) {
      if (mine !== request) { return; }
      if (!res.ok) { listStatus.textContent = ""; say(failure(res), true); return; }
      if (!more) { listBody.textContent = ""; state.rows = 0; selectAll.checked = false; }
      res.body.items.forEach(function (item) {
        if (state.cells && !state.cells[item.cell_code]) { return; }
        listBody.appendChild(row(item));
        state.rows++;
      });
      state.next = res.body.next;
      listBody.dataset.list = state.list;  // which list the rows are (tests wait on it)
      moreButton.hidden = !state.next;
      listStatus.textContent = state.rows ? fmt("desk_count", { count: state.rows }) : t.desk_empty;
      countSelected();
    }, function () { if (mine === request) { say(t.network, true); } });
  }

  function row(item) {
    var tr = make("tr");
    tr.dataset.number = item.tracking_number;
    var allowed = item.allowed_actions || [];
    var pick = make("td", "desk-pick");
    if (allowed.indexOf("assign") >= 0) {
      var box = make("input");
      box.type = "checkbox";
      box.className = "desk-select";
      box.value = item.tracking_number;
      box.dataset.version = item.version;
      box.setAttribute("aria-label", fmt("desk_select_row", { number: item.tracking_number }));
      box.addEventListener("change", countSelected);
      pick.appendChild(box);
    }
    tr.appendChild(pick);
    var number = make("td", "desk-number");
    number.appendChild(caseLink(item.tracking_number));
    tr.appendChild(number);
    tr.appendChild(cell(t.desk_col_category, gg.labelOf(item.category)));
    tr.appendChild(cell(t.desk_col_address, item.address || t.desk_no_address));
    var status = cell(t.desk_col_status, gg.statusLabel(item.status));
    if (item.overdue) { status.appendChild(make("strong", "desk-flag", " · " + t.desk_overdue)); }
    if (item.escalation_level > 0) {
      status.appendChild(make("span", "desk-flag-soft",
                              " · " + fmt("desk_escalated", { level: item.escalation_level })));
    }
    tr.appendChild(status);
    tr.appendChild(cell(t.desk_col_deadline, when(item.due_at)));
    tr.appendChild(cell(t.desk_col_assignee, item.assignee || t.desk_unassigned));
    var actions = make("td", "desk-actions");
    actions.dataset.label = t.desk_col_actions;
    if (allowed.indexOf("assign") >= 0) { actions.appendChild(assignControls(item)); }
    if (allowed.indexOf("close") >= 0) {
      actions.appendChild(button(t.desk_close, function (e) {
        runAction(e.currentTarget, item, { action: "close" }, fmt("desk_closed", { number: item.tracking_number }));
      }));
    }
    if (allowed.indexOf("reopen") >= 0) {
      actions.appendChild(noteControls(item, "reopen", t.desk_reopen, "desk_reopen_reason", "desk_reopened"));
    }
    // A transfer (or a new report) may also be refused as invalid, with the reason.
    if (allowed.indexOf("reject") >= 0 && (item.status === "transferred" || item.status === "submitted")) {
      actions.appendChild(noteControls(item, "reject", t.desk_reject, "desk_reject_reason", "desk_rejected"));
    }
    tr.appendChild(actions);
    return tr;
  }

  function cell(label, text) {
    var td = make("td", null, text);
    td.dataset.label = label;  // the column's name beside the value on narrow screens
    return td;
  }

  function assignControls(item) {
    var wrap = make("div", "desk-inline");
    var select = make("select", "desk-workers");
    fillWorkers(select);
    wrap.appendChild(field(fmt("desk_worker_for", { number: item.tracking_number }), select, true));
    wrap.appendChild(button(item.assignee ? t.desk_reassign : t.desk_assign, function (e) {
      if (!select.value) { say(t.desk_need_worker, true); select.focus(); return; }
      runAction(e.currentTarget, item, { action: "assign", assignee: select.value, version: item.version },
                fmt("desk_assigned", { number: item.tracking_number, worker: select.value }));
    }));
    return wrap;
  }

  /* An action that needs a reason (send back, reject): the reason's field and its button. */
  function noteControls(item, action, label, reasonKey, doneKey) {
    var wrap = make("div", "desk-inline");
    var reason = make("input");
    reason.type = "text";
    reason.maxLength = 2000;
    reason.placeholder = t.desk_need_reason;
    wrap.appendChild(field(fmt(reasonKey, { number: item.tracking_number }), reason, true));
    wrap.appendChild(button(label, function (e) {
      if (!reason.value.trim()) { say(t.desk_need_reason, true); reason.focus(); return; }
      runAction(e.currentTarget, item, { action: action, note: reason.value.trim(), version: item.version },
                fmt(doneKey, { number: item.tracking_number }));
    }, "secondary"));
    return wrap;
  }

  /* One action on one report; a stale version (409) reloads the list with the news. */
  function runAction(control, item, body, success) {
    act(control, function () {
      return post("/incidents/" + encodeURIComponent(item.tracking_number) + "/actions", body);
    }, function (res) {
      if (res.ok) { say(success); }
      else if (res.status === 409) { say(fmt("desk_stale", { number: item.tracking_number }), true); }
      else { say(failure(res), true); return; }
      refreshLists();
    });
  }

  /* After a change: the list and the workers' loads again; focus kept on the list. */
  function refreshLists() {
    var lost = !document.activeElement || document.activeElement === document.body ||
      listBody.contains(document.activeElement);
    loadArea().then(function () { return loadList(false); }).then(function () {
      if (lost) { el("lists-title").focus(); }
    });
  }

  function selected() {
    return Array.prototype.slice.call(listBody.querySelectorAll(".desk-select:checked"));
  }

  function countSelected() {
    bulkCount.textContent = fmt("desk_selected", { count: selected().length });
  }

  el("bulk").addEventListener("submit", function (e) {
    e.preventDefault();
    var boxes = selected();
    var worker = el("bulk-worker").value;
    if (!boxes.length) { say(t.desk_need_selection, true); return; }
    if (!worker) { say(t.desk_need_worker, true); el("bulk-worker").focus(); return; }
    var versions = {};
    boxes.forEach(function (b) { versions[b.value] = Number(b.dataset.version); });
    act(el("bulk-assign"), function () {
      return post("/incidents/bulk-assign", {
        tracking_numbers: boxes.map(function (b) { return b.value; }),
        assignee: worker, versions: versions });
    }, function (res) {
      if (res.ok) { say(fmt("desk_bulk_done", { count: res.body.assigned, worker: worker })); }
      else if (res.status === 409) { say(failure(res), true); }
      else { say(failure(res), true); return; }
      refreshLists();
    });
  });

  selectAll.addEventListener("change", function () {
    Array.prototype.forEach.call(listBody.querySelectorAll(".desk-select"), function (b) {
      b.checked = selectAll.checked;
    });
    countSelected();
  });

  Array.prototype.forEach.call(document.querySelectorAll(".desk-tabs button"), function (b) {
    b.addEventListener("click", function () {
      state.list = b.dataset.list;
      Array.prototype.forEach.call(document.querySelectorAll(".desk-tabs button"), function (o) {
        o.setAttribute("aria-pressed", o === b ? "true" : "false");
      });
      el("filter-status").disabled = state.list === "verify";
      loadList(false);
    });
  });

  el("filters").addEventListener("submit", function (e) { e.preventDefault(); loadList(false); });
  moreButton.addEventListener("click", function () { loadList(true); });

  // --- extension requests -------------------------------------------------------------------

  function loadExtensions() {
    var list = el("extensions");
    return staff.get("/extension-requests").then(function (res) {
      if (!res.ok) { say(failure(res), true); return; }
      list.textContent = "";
      res.body.items.forEach(function (x) { list.appendChild(extensionCard(x)); });
      el("ext-empty").hidden = res.body.items.length > 0;
      badge("badge-extensions", res.body.items.length);
    });
  }

  function extensionCard(x) {
    var li = make("li", "desk-card");
    li.dataset.extension = x.id;
    var head = make("p", "desk-card-head");
    head.appendChild(caseLink(x.tracking_number));
    head.appendChild(make("span", null, " · " + fmt("desk_ext_until", { when: when(x.requested_until) })));
    li.appendChild(head);
    li.appendChild(make("p", null, fmt("desk_ext_reason", { reason: x.reason })));
    var note = make("textarea");
    note.rows = 2;
    note.maxLength = 2000;
    li.appendChild(field(fmt("desk_ext_note", { number: x.tracking_number }), note));
    var buttons = make("div", "desk-buttons");
    buttons.appendChild(button(t.desk_ext_grant, function (e) { decide(e.currentTarget, true); }));
    buttons.appendChild(button(t.desk_ext_refuse, function (e) {
      if (!note.value.trim()) { say(t.desk_need_reason, true); note.focus(); return; }
      decide(e.currentTarget, false);
    }, "secondary"));
    li.appendChild(buttons);
    function decide(control, grant) {
      act(control, function () {
        return post("/extension-requests/" + x.id + "/decision",
                    { grant: grant, note: note.value.trim() || null });
      }, function (res) {
        if (!res.ok) { say(failure(res), true); if (res.status !== 409) { return; } }
        else {
          say(fmt(grant ? "desk_ext_granted" : "desk_ext_refused", { number: x.tracking_number }));
        }
        loadExtensions().then(function () { el("ext-title").focus(); });
        loadList(false);
      });
    }
    return li;
  }

  // --- publication review ------------------------------------------------------------------

  function loadReviews() {
    var list = el("reviews");
    return staff.get("/review-queue").then(function (res) {
      if (!res.ok) { say(failure(res), true); return; }
      list.textContent = "";
      res.body.items.forEach(function (x) { list.appendChild(reviewCard(x)); });
      el("review-empty").hidden = res.body.items.length > 0;
      badge("badge-review", res.body.items.length);
    });
  }

  /* The proposed text with each automatic mask in a <mark>, said as masked. */
  function masked(text) {
    var p = make("p", "desk-text");
    text.split(MASK).forEach(function (part, i) {
      if (!part) { return; }
      if (i % 2 === 1) {
        var mark = make("mark", "desk-mask", part);
        mark.appendChild(make("span", "visually-hidden", " (" + t.desk_masked + ")"));
        p.appendChild(mark);
      } else {
        p.appendChild(document.createTextNode(part));
      }
    });
    return p;
  }

  function reviewCard(x) {
    var li = make("li", "desk-card");
    li.dataset.review = x.tracking_number;
    var head = make("p", "desk-card-head");
    head.appendChild(caseLink(x.tracking_number));
    head.appendChild(make("span", null, " · " + gg.labelOf(x.category) + " · " + gg.statusLabel(x.status)));
    li.appendChild(head);
    var reason = make("input");
    reason.type = "text";
    reason.maxLength = 2000;
    if (x.text_review === "pending") {
      li.appendChild(make("h3", "desk-sub", t.desk_review_original));
      li.appendChild(make("p", "desk-text desk-original", x.description));
      li.appendChild(make("h3", "desk-sub", t.desk_review_proposed));
      li.appendChild(masked(x.proposed_text || ""));
      var edit = make("textarea");
      edit.rows = 3;
      edit.value = x.proposed_text || "";
      li.appendChild(field(fmt("desk_review_edit", { number: x.tracking_number }), edit));
      li.appendChild(field(fmt("desk_review_reason", { number: x.tracking_number }), reason));
      var buttons = make("div", "desk-buttons");
      buttons.appendChild(button(t.desk_review_approve, function (e) {
        var body = { text_decision: "approve", reason: reason.value.trim() || null };
        // Only an edited text is sent: the server masks it again before publishing.
        if (edit.value.trim() !== (x.proposed_text || "").trim()) { body.text = edit.value.trim(); }
        review(e.currentTarget, body, fmt("desk_review_approved", { number: x.tracking_number }));
      }));
      buttons.appendChild(button(t.desk_review_reject, function (e) {
        if (!reason.value.trim()) { say(t.desk_need_reason, true); reason.focus(); return; }
        review(e.currentTarget, { text_decision: "reject", reason: reason.value.trim() },
               fmt("desk_review_rejected", { number: x.tracking_number }));
      }, "secondary"));
      li.appendChild(buttons);
    }
    if (x.result_note) {
      // The handler's result note (what was done): published masked, once approved.
      var resultReason = make("input");
      resultReason.type = "text";
      resultReason.maxLength = 2000;
      li.appendChild(make("h3", "desk-sub", t.desk_review_result));
      li.appendChild(masked(x.proposed_result || ""));
      li.appendChild(field(fmt("desk_review_result_reason", { number: x.tracking_number }), resultReason));
      var resultButtons = make("div", "desk-buttons");
      resultButtons.appendChild(button(t.desk_review_result_approve, function (e) {
        review(e.currentTarget, { result_decision: "approve" },
               fmt("desk_review_result_approved", { number: x.tracking_number }));
      }));
      resultButtons.appendChild(button(t.desk_review_result_reject, function (e) {
        if (!resultReason.value.trim()) { say(t.desk_need_reason, true); resultReason.focus(); return; }
        review(e.currentTarget, { result_decision: "reject", reason: resultReason.value.trim() },
               fmt("desk_review_result_rejected", { number: x.tracking_number }));
      }, "secondary"));
      li.appendChild(resultButtons);
    }
    if (x.photos_pending.length) {
      var set = make("fieldset", "desk-photos");
      set.appendChild(make("legend", null, t.desk_review_photos));
      x.photos_pending.forEach(function (photo) {
        var figure = make("div", "desk-photo");
        var img = make("img");
        img.alt = fmt("desk_review_photo_alt", { number: x.tracking_number, id: photo.id });
        loadPhoto(img, photo.url + "?copy=thumbnail");
        figure.appendChild(img);
        var box = make("input");
        box.type = "checkbox";
        box.value = photo.id;
        box.className = "desk-photo-pick";
        box.id = "photo-" + photo.id;
        var label = make("label", "inline", fmt("desk_review_photo", { id: photo.id }));
        label.htmlFor = box.id;
        label.insertBefore(box, label.firstChild);
        figure.appendChild(label);
        set.appendChild(figure);
      });
      set.appendChild(button(t.desk_review_publish, function (e) {
        var ids = Array.prototype.map.call(set.querySelectorAll(".desk-photo-pick:checked"),
                                           function (b) { return Number(b.value); });
        if (!ids.length) { say(t.desk_need_selection, true); return; }
        review(e.currentTarget, { publish_photos: ids },
               fmt("desk_review_published", { number: x.tracking_number, count: ids.length }));
      }));
      li.appendChild(set);
    }
    function review(control, body, success) {
      act(control, function () {
        return post("/incidents/" + encodeURIComponent(x.tracking_number) + "/review", body);
      }, function (res) {
        if (!res.ok) { say(failure(res), true); return; }
        say(success);
        loadReviews().then(function () { el("review-title").focus(); });
      });
    }
    return li;
  }

  /* Staff photos need the bearer token, which an <img src> cannot send (gg.staff.blobUrl). */
  function loadPhoto(img, url) {
    staff.blobUrl(url).then(function (u) { if (u) { img.src = u; } });
  }

  // --- 好差评: work orders and rating flags ----------------------------------------------------

  function loadRatings() {
    var orders = el("work-orders");
    var flags = el("flags");
    var waiting = 0;
    var one = staff.get("/work-orders?mine=false").then(function (res) {
      if (!res.ok) { say(failure(res), true); return; }
      orders.textContent = "";
      res.body.work_orders.forEach(function (w) { orders.appendChild(workOrderCard(w)); });
      el("wo-empty").hidden = res.body.work_orders.length > 0;
      waiting += res.body.work_orders.length;
    });
    var two = staff.get("/desk/rating-flags").then(function (res) {
      if (!res.ok) { say(failure(res), true); return; }
      flags.textContent = "";
      res.body.items.forEach(function (f) { flags.appendChild(flagCard(f)); });
      el("flags-empty").hidden = res.body.items.length > 0;
      waiting += res.body.items.filter(function (f) { return !f.mine; }).length;
    });
    return Promise.all([one, two]).then(function () { badge("badge-ratings", waiting); });
  }

  function workOrderCard(w) {
    var li = make("li", "desk-card");
    li.dataset.workOrder = w.id;
    var head = make("p", "desk-card-head");
    head.appendChild(make("span", null, fmt("desk_wo_number", { id: w.id, number: "" })));
    head.appendChild(caseLink(w.tracking_number));
    li.appendChild(head);
    var facts = make("p", null, fmt("desk_wo_due", { when: when(w.due_at) }) + " · " +
                     fmt("desk_wo_overall", { overall: w.overall }) + " · " +
                     t.desk_col_assignee + "：" + (w.assignee || t.desk_unassigned));
    if (w.overdue) { facts.appendChild(make("strong", "desk-flag", " · " + t.desk_overdue)); }
    li.appendChild(facts);
    var method = make("select");
    var none = make("option", null, "—");
    none.value = "";
    method.appendChild(none);
    CONTACT_METHODS.forEach(function (m) {
      var option = make("option", null, t["desk_wo_" + m]);
      option.value = m;
      method.appendChild(option);
    });
    var outcome = make("textarea");
    outcome.rows = 2;
    var actions = make("textarea");
    actions.rows = 2;
    li.appendChild(field(t.desk_wo_contact, method));
    li.appendChild(field(t.desk_wo_outcome, outcome));
    li.appendChild(field(t.desk_wo_actions, actions));
    li.appendChild(button(t.desk_wo_record, function (e) {
      act(e.currentTarget, function () {
        return post("/work-orders/" + w.id + "/revisit", {
          contact_method: method.value || null, outcome: outcome.value.trim() || null,
          actions_taken: actions.value.trim() || null });
      }, function (res) {
        if (!res.ok) { say(failure(res), true); return; }
        say(fmt("desk_wo_recorded", { id: w.id }));
        loadRatings().then(function () { el("wo-title").focus(); });
      });
    }));
    return li;
  }

  function flagCard(f) {
    var li = make("li", "desk-card");
    li.dataset.flag = f.id;
    var head = make("p", "desk-card-head");
    head.appendChild(caseLink(f.tracking_number));
    head.appendChild(make("span", null, " · " + fmt("desk_wo_overall", { overall: f.overall })));
    li.appendChild(head);
    li.appendChild(make("p", null, fmt("desk_flag_by", { user: f.flagged_by, reason: f.reason })));
    if (f.comment) { li.appendChild(make("p", null, fmt("desk_flag_comment", { comment: f.comment }))); }
    if (f.mine) {
      li.appendChild(make("p", "desk-hint", t.desk_flag_mine));
      return li;
    }
    var buttons = make("div", "desk-buttons");
    buttons.appendChild(button(t.desk_flag_confirm, function (e) { decide(e.currentTarget, true); }));
    buttons.appendChild(button(t.desk_flag_refuse, function (e) { decide(e.currentTarget, false); }, "secondary"));
    li.appendChild(buttons);
    function decide(control, confirm) {
      act(control, function () {
        return post("/rating-flags/" + f.id + "/decision", { confirm: confirm });
      }, function (res) {
        if (!res.ok) { say(failure(res), true); if (res.status !== 409) { return; } }
        else { say(fmt(confirm ? "desk_flag_confirmed" : "desk_flag_refused", { id: f.rating_id })); }
        loadRatings().then(function () { el("flags-title").focus(); });
      });
    }
    return li;
  }

  // --- wiring --------------------------------------------------------------------------------

  Array.prototype.forEach.call(document.querySelectorAll(".desk-sections button"), function (b) {
    b.addEventListener("click", function () { showSection(b.dataset.section); });
  });
  ["lists-title", "ext-title", "review-title", "wo-title", "flags-title", "desk-not-manager"]
    .forEach(function (id) { el(id).tabIndex = -1; });

  if (place.cell || place.region) {
    el("place").hidden = false;
    el("place-clear").href = "/desk?lang=" + config.lang;
    if (place.cell) { el("place-text").textContent = fmt("desk_filter_cell", { code: place.cell }); }
  }
  gg.fillCategories(el("filter-category"));
  staff.wireSignIn(loginForm, loginError, start);
  staff.onSignedOut(function () { signOut(); });
  el("desk-logout").addEventListener("click", staff.signOut);
  el("desk-refused-logout").addEventListener("click", staff.signOut);
  if (staff.token()) { start(); }
})();
