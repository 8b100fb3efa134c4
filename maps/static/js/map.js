/* The public map: open hazards in view, clustered, coloured by status, by category. */
"use strict";
(function () {
  var t = gg.t;
  var map = gg.makeMap("map");
  // The filters apply as they change; Enter must not submit (and reload) the page.
  document.getElementById("filters").addEventListener("submit", function (e) {
    e.preventDefault();
  });
  var clusters = L.markerClusterGroup({ maxClusterRadius: 50 }).addTo(map);
  var select = document.getElementById("category");
  var status = document.getElementById("map-status");
  var heatBox = document.getElementById("heat");
  var heat = L.heatLayer([], { radius: 25, maxZoom: 16 });
  var request = 0;

  function marker(feature) {
    var p = feature.properties;
    var colour = gg.config.statusColours[p.status] || "#333";
    var c = feature.geometry.coordinates;
    var label = (gg.config.lang === "en" ? p.label_en : p.label_zh) + " · " + gg.statusLabel(p.status);
    var m = L.marker([c[1], c[0]], {
      title: label, alt: label, keyboard: true,
      icon: L.divIcon({ className: "gg-marker gg-status-" + p.status, iconSize: [16, 16],
                        html: "<span style=\"display:block;width:100%;height:100%;border-radius:50%;background:" + colour + "\"></span>" })
    });
    var popup = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = gg.config.lang === "en" ? p.label_en : p.label_zh;
    popup.appendChild(title);
    popup.appendChild(document.createElement("br"));
    popup.appendChild(document.createTextNode(gg.statusLabel(p.status) + " · " + p.created_at.slice(0, 10)));
    m.bindPopup(popup);
    return m;
  }

  function load() {
    var mine = ++request;
    var url = "/map/incidents.geojson?bbox=" + gg.bboxOf(map);
    if (select.value) { url += "&category=" + encodeURIComponent(select.value); }
    status.textContent = t.loading;
    gg.getJSON(url).then(function (res) {
      if (mine !== request) { return; }  // a later pan already asked again
      status.textContent = "";
      if (!res.ok) { status.textContent = res.body.error ? res.body.error.message : ""; return; }
      clusters.clearLayers();
      clusters.addLayers(res.body.features.map(marker));
      heat.setLatLngs(res.body.features.map(function (f) {
        return [f.geometry.coordinates[1], f.geometry.coordinates[0]];
      }));
      document.body.dataset.markers = String(res.body.features.length);
    });
  }

  gg.fillCategories(select);
  select.addEventListener("change", load);
  heatBox.addEventListener("change", function () {
    if (heatBox.checked) { heat.addTo(map); } else { map.removeLayer(heat); }
  });
  map.on("moveend", load);
  load();
})();
