/* The report form's place without a map: three selects, compound (小区, or a road and
   house number where no compound is drawn) -> building -> unit, each filled from the
   one before (GET /addresses/compounds near a point, /addresses/buildings?compound=,
   /addresses/buildings/{id}/units). Plain <select>s: the keyboard (Tab, arrows) and
   screen readers work with them as they are; the status line says what was loaded. */
"use strict";
gg.placeLists = function (opts) {
  var t = gg.t;
  var compound = opts.compound, building = opts.building, unit = opts.unit, status = opts.status;
  var COMPOUNDS = 100;
  var buildings = [];  // the chosen compound's buildings, in the select's order
  var chosen = null;  // the chosen building
  var asked = { compounds: 0, buildings: 0, units: 0 };  // only the newest answer is shown

  function fill(select, placeholder, items, textOf) {
    select.textContent = "";
    var first = document.createElement("option");
    first.value = "";
    first.textContent = placeholder;
    select.appendChild(first);
    items.forEach(function (item, i) {
      var option = document.createElement("option");
      option.value = item.id !== undefined ? item.id : String(i);
      option.textContent = textOf(item);
      select.appendChild(option);
    });
    select.disabled = items.length === 0;
  }

  function fetchNewest(kind, url, then) {
    var mine = ++asked[kind];
    gg.getJSON(url).then(function (res) {
      if (mine !== asked[kind]) { return; }
      if (!res.ok) { status.textContent = t.rep_lists_failed; then(null); return; }
      then(res.body);
    }, function () {
      if (mine === asked[kind]) { status.textContent = t.rep_lists_failed; then(null); }
    });
  }

  function resetBuildings(placeholder) {
    buildings = [];
    chosen = null;
    fill(building, placeholder, [], null);
    fill(unit, t.rep_lists_building_first, [], null);
  }

  /* The compounds around `near` ({lon, lat}), nearest first. */
  function load(near) {
    var at = near.lon.toFixed(6) + "," + near.lat.toFixed(6);
    fetchNewest("compounds", "/addresses/compounds?limit=" + COMPOUNDS + "&near=" + at,
      function (body) {
        var found = body ? body.compounds : [];
        fill(compound, found.length ? t.rep_lists_choose_compound : t.rep_lists_none, found,
             function (c) { return c.name; });
        if (body && !found.length) { status.textContent = t.rep_lists_none; }
      });
  }

  compound.addEventListener("change", function () {
    resetBuildings(t.rep_lists_compound_first);
    if (!compound.value) { return; }
    fetchNewest("buildings", "/addresses/buildings?compound=" + encodeURIComponent(compound.value),
      function (body) {
        buildings = body ? body.buildings : [];
        fill(building, t.rep_lists_choose_building, buildings.map(function (b) {
          return { address: b.address };
        }), function (b) { return b.address; });
        if (body) { status.textContent = gg.format(t.rep_lists_count_buildings, { count: buildings.length }); }
      });
  });

  building.addEventListener("change", function () {
    fill(unit, t.rep_lists_building_first, [], null);
    chosen = building.value === "" ? null : buildings[Number(building.value)];
    if (!chosen) { return; }
    opts.onBuilding(chosen);
    status.textContent = gg.format(t.rep_lists_chosen, { name: chosen.address });
    var mine = chosen;
    fetchNewest("units", "/addresses/buildings/" + chosen.building_id + "/units", function (body) {
      if (mine !== chosen) { return; }
      var units = body ? body.units : [];
      fill(unit, t.rep_lists_no_unit, units.map(function (u) { return { id: u.unit_number, n: u.unit_number }; }),
           function (u) { return u.n; });
      if (units.length) { status.textContent = gg.format(t.rep_lists_count_units, { count: units.length }); }
    });
  });

  unit.addEventListener("change", function () {
    if (!chosen) { return; }
    var text = unit.value ? chosen.address + " " + unit.value : chosen.address;
    opts.onUnit(text);
    status.textContent = gg.format(t.rep_lists_chosen, { name: text });
  });

  return {
    load: load,
    /* The place was set another way (map, GPS, search): the lists no longer describe it. */
    forget: function () {
      if (building.value !== "" || unit.value !== "") {
        building.value = "";
        fill(unit, t.rep_lists_building_first, [], null);
        chosen = null;
      }
    },
    chosen: function () { return chosen; }
  };
};
