/* Address search for the report form: a combobox over GET /addresses (the register's
   buildings), following the ARIA 1.2 combobox-with-listbox pattern: typing searches after
   a pause, Up/Down move through the results, Enter chooses, Escape closes. */
"use strict";
gg.addressCombobox = function (opts) {
  var t = gg.t;
  var input = opts.input, list = opts.list, status = opts.status;
  var DEBOUNCE_MS = 300;
  var LIMIT = 8;
  var results = [];
  var active = -1;
  var timer = null;
  var asked = 0;  // only the newest search's answer is shown

  function setActive(index) {
    active = index;
    Array.prototype.forEach.call(list.children, function (li, i) {
      li.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", list.children[index].id);
      list.children[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function setOpen(open) {
    list.hidden = !open;
    input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) { setActive(-1); }
  }

  function render() {
    list.textContent = "";
    results.forEach(function (hit, i) {
      var li = document.createElement("li");
      li.id = "address-option-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.textContent = hit.address;
      // Keep focus in the box so the click below still finds the list open.
      li.addEventListener("mousedown", function (e) { e.preventDefault(); });
      li.addEventListener("click", function () { choose(i); });
      list.appendChild(li);
    });
    setOpen(results.length > 0);
  }

  function choose(index) {
    var hit = results[index];
    input.value = hit.address;
    setOpen(false);
    status.textContent = gg.format(t.rep_address_chosen, { name: hit.address });
    opts.onChoose(hit);
  }

  function search() {
    clearTimeout(timer);
    var query = input.value.trim();
    var mine = ++asked;
    if (Array.from(query).length < opts.minChars) {
      results = [];
      render();
      status.textContent = "";
      return;
    }
    status.textContent = t.rep_address_searching;
    var url = "/addresses?limit=" + LIMIT + "&q=" + encodeURIComponent(query) +
              "&near=" + encodeURIComponent(opts.near());
    gg.getJSON(url).then(function (res) {
      if (mine !== asked) { return; }
      results = res.ok ? res.body.results : [];
      render();
      status.textContent = !res.ok ? t.rep_address_failed
        : results.length ? gg.format(t.rep_address_found, { count: results.length })
        : t.rep_address_none;
    }, function () {
      if (mine === asked) { status.textContent = t.rep_address_failed; }
    });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, DEBOUNCE_MS);
  });
  input.addEventListener("keydown", function (e) {
    var n = results.length;
    if ((e.key === "ArrowDown" || e.key === "ArrowUp") && n) {
      e.preventDefault();
      if (list.hidden) { setOpen(true); }
      setActive(e.key === "ArrowDown" ? (active + 1) % n : (active - 1 + n) % n);
    } else if (e.key === "Enter") {
      // Enter in the search box never submits the report: it chooses, or searches now.
      e.preventDefault();
      if (!list.hidden && active >= 0) { choose(active); } else { search(); }
    } else if (e.key === "Escape" && !list.hidden) {
      e.preventDefault();
      setOpen(false);
    }
  });
  input.addEventListener("blur", function () { setOpen(false); });
};
