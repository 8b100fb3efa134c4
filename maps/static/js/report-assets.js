/* The report form's city asset picker (部件, issue 16): once a category and a place are
   known, the assets of the kinds that category concerns within 50 m of the place
   (GET /assets/nearby?category=), nearest first, as radios after "none of these" (the
   default); the chosen code goes with the report as asset_code. A category concerning
   no asset, or no asset near, shows nothing. */
"use strict";
window.gg.assetPicker = function (opts) {
  var t = gg.t;
  var lang = gg.config.lang;
  var box = opts.box;  // the fieldset, hidden while there is nothing to offer
  var list = opts.list;
  var asked = 0;  // only the newest question's answer is shown

  function clear() {
    asked++;
    list.textContent = "";
    box.hidden = true;
  }

  function chosen() {
    var radio = list.querySelector("input[name=asset_code]:checked");
    return radio ? radio.value : "";
  }

  function radio(value, text, checked, describedBy) {
    var label = document.createElement("label");
    label.className = "inline rep-asset";
    var input = document.createElement("input");
    input.type = "radio";
    input.name = "asset_code";
    input.value = value;
    input.checked = checked;
    input.setAttribute("aria-describedby", describedBy);
    label.appendChild(input);
    label.appendChild(document.createTextNode(" " + text));
    return label;
  }

  function assetText(a) {
    var kind = a.kind_label[lang] || a.kind_label["zh-Hans"];
    var words = gg.format(t.rep_asset_item, { kind: kind, code: a.code,
                                             m: Math.round(a.distance_m) });
    return a.status === "damaged" ? words + t.rep_asset_damaged : words;
  }

  function show(assets) {
    var before = chosen();
    list.textContent = "";
    list.appendChild(radio("", t.rep_asset_none, true, "asset_code-error"));
    assets.forEach(function (a) {
      // A choice still offered after the pin moved stays chosen.
      list.appendChild(radio(a.code, assetText(a), a.code === before, "asset_code-error"));
    });
    box.hidden = false;
  }

  /* Ask again for this category and place ({lon, lat}); either missing clears the list. */
  function update(category, at) {
    if (!category || !at) { clear(); return; }
    var mine = ++asked;
    gg.getJSON("/assets/nearby?lon=" + at.lon.toFixed(7) + "&lat=" + at.lat.toFixed(7) +
               "&category=" + encodeURIComponent(category))
      .then(function (res) {
        if (mine !== asked) { return; }
        var found = (res.ok && res.body && res.body.assets) || [];
        if (found.length) { show(found); } else { clear(); }
      }, function () { if (mine === asked) { clear(); } });
  }

  return { update: update, chosen: chosen, clear: clear };
};
