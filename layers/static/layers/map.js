// The home page map (OpenLayers): the rendered basemap from MapProxy/MapServer (/tiles/) on either
// tile grid, or the vector tiles (/vt/), plus every listed layer from the catalog's GeoJSON endpoint.
//
// Modes (the radio buttons of #map-mode):
//   GLOBAL_WEBMERCATOR  raster basemap, /tiles/wmts/basemap/GLOBAL_WEBMERCATOR/{z}/{x}/{y}.png, EPSG:3857
//   cgcs2000_c          raster basemap, /tiles/wmts/basemap/cgcs2000_c/{z}/{x}/{y}.png, EPSG:4490
//                       (Tianditu's `c` matrix: origin (-180, 90), 1.40625°/px at level 0, halving)
//   vector              the listed layers' vector tiles, /vt/{slug}/{z}/{x}/{y}.pbf, drawn here
//
// Layers the raster basemap already draws (its members: #basemap-layers) are kept as invisible,
// clickable features (a click shows their attributes); other layers are drawn in a colour of their own.
// #map carries data-mode, data-ready (the loaded slugs) and data-features (their feature count).
(function () {
  "use strict";
  const el = document.getElementById("map");
  const TILES = el.dataset.tiles || "/tiles/";
  const VT = el.dataset.vt || "/vt/";
  const basemapMembers = new Set(JSON.parse(document.getElementById("basemap-layers").textContent || "[]"));
  const palette = ["#1a6fb0", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#16a085", "#7f8c8d"];

  // CGCS2000 geographic coordinates: equal to WGS84 at this map's accuracy (centimetres).
  const cgcs2000 = new ol.proj.Projection({
    code: "EPSG:4490", units: "degrees", extent: [-180, -90, 180, 90], worldExtent: [-180, -90, 180, 90],
    global: true, axisOrientation: "neu",
  });
  ol.proj.addProjection(cgcs2000);
  ol.proj.addEquivalentProjections([ol.proj.get("EPSG:4326"), cgcs2000]);
  ol.proj.addCoordinateTransforms(cgcs2000, ol.proj.get("EPSG:3857"),
    (c) => ol.proj.fromLonLat(c), (c) => ol.proj.toLonLat(c));

  const LEVELS = 20;
  const cgcsResolutions = Array.from({ length: LEVELS }, (_, z) => 1.40625 / 2 ** z);
  const grids = {
    GLOBAL_WEBMERCATOR: { projection: ol.proj.get("EPSG:3857"), tileGrid: ol.tilegrid.createXYZ({ maxZoom: LEVELS - 1 }) },
    cgcs2000_c: {
      projection: cgcs2000,
      tileGrid: new ol.tilegrid.TileGrid({ origin: [-180, 90], resolutions: cgcsResolutions, extent: [-180, -90, 180, 90], tileSize: 256 }),
    },
  };
  grids.vector = grids.GLOBAL_WEBMERCATOR;

  const entries = Array.from(document.querySelectorAll("#layer-list .layer"));
  const attributionOf = (slug) => {
    const li = entries.find((e) => e.dataset.slug === slug);
    return li ? li.dataset.attribution || "" : "";
  };
  const basemapAttributions = Array.from(new Set(Array.from(basemapMembers).map(attributionOf).filter(Boolean)));

  // Raster basemaps, one per grid; MapServer draws them, MapProxy caches them.
  const tileCounts = {};
  function rasterBasemap(grid) {
    const source = new ol.source.XYZ({
      url: TILES + "wmts/basemap/" + grid + "/{z}/{x}/{y}.png",
      projection: grids[grid].projection,
      tileGrid: grids[grid].tileGrid,
      attributions: basemapAttributions,
      crossOrigin: "anonymous",
    });
    source.on("tileloadend", () => {
      tileCounts[grid] = (tileCounts[grid] || 0) + 1;
      el.dataset.tilesLoaded = JSON.stringify(tileCounts);
    });
    return new ol.layer.Tile({ source, visible: false, className: "basemap basemap-" + grid, zIndex: 0 });
  }
  const basemaps = { GLOBAL_WEBMERCATOR: rasterBasemap("GLOBAL_WEBMERCATOR"), cgcs2000_c: rasterBasemap("cgcs2000_c") };

  // Styles. POI colours by category group, as the raster style (tiles/styles/layers/poi.map).
  const groupColour = {
    tourism: "#e34a33", accommodation: "#6a51a3", catering: "#f16913", shopping: "#ce1256", transport: "#2171b5",
    government: "#993404", medical: "#e31a1c", education: "#238b45", finance: "#b8860b", public_service: "#737373",
  };
  const white = new ol.style.Stroke({ color: "#ffffff", width: 1 });
  const hidden = new ol.style.Style({
    fill: new ol.style.Fill({ color: "rgba(255,255,255,0.01)" }),
    stroke: new ol.style.Stroke({ color: "rgba(255,255,255,0.01)", width: 6 }),
    image: new ol.style.Circle({ radius: 7, fill: new ol.style.Fill({ color: "rgba(255,255,255,0.01)" }) }),
  });
  function plainStyle(colour) {
    return new ol.style.Style({
      fill: new ol.style.Fill({ color: colour + "1f" }),
      stroke: new ol.style.Stroke({ color: colour, width: 1.5 }),
      image: new ol.style.Circle({ radius: 5, fill: new ol.style.Fill({ color: colour + "cc" }), stroke: white }),
    });
  }
  function text(label, colour, offsetY) {
    return new ol.style.Text({
      text: label, font: "12px 'Noto Sans CJK SC', 'Noto Sans Arabic', sans-serif", offsetY: offsetY || 0,
      fill: new ol.style.Fill({ color: colour }), stroke: new ol.style.Stroke({ color: "#ffffff", width: 3 }),
    });
  }
  // Vector tiles: drawn here with the raster style's colours; labels decluttered (no overlaps).
  function vectorStyle(slug, colour) {
    const cache = {};
    return function (feature, resolution) {
      const p = feature.getProperties();
      const type = feature.getGeometry().getType();
      const z = Math.round(Math.log2(156543.03392804097 / resolution));
      if (slug === "poi") {
        const scenic = p.category === "scenic_spot";
        if (p.status === "closed" || (z < 13 && !(scenic && z >= 8))) return null;
        const c = groupColour[p.category_group] || "#969696";
        const big = scenic && (p.rating === "4A" || p.rating === "5A");
        // The Uyghur name (Arabic script: the browser shapes it) on a second line, as on the raster map.
        const label = p.name ? (p.name_ug ? p.name + "\n" + p.name_ug : p.name) : "";
        const key = "poi|" + c + big + label;
        if (!cache[key]) {
          cache[key] = new ol.style.Style({
            image: big ? new ol.style.RegularShape({ points: 5, radius: 9, radius2: 4, fill: new ol.style.Fill({ color: c }), stroke: white })
              : new ol.style.Circle({ radius: 5, fill: new ol.style.Fill({ color: c }), stroke: white }),
            text: label ? text(label, "#333333", p.name_ug ? -22 : -14) : undefined,
          });
        }
        return cache[key];
      }
      if (slug === "admin-counties") {
        return cache.c || (cache.c = new ol.style.Style({
          fill: new ol.style.Fill({ color: "rgba(253,224,221,0.33)" }), stroke: new ol.style.Stroke({ color: "#c51b8a", width: 1.2 }),
        }));
      }
      if (slug === "admin-prefectures") {
        return cache.p || (cache.p = new ol.style.Style({ stroke: new ol.style.Stroke({ color: "#7a0177", width: 2.5 }) }));
      }
      if (slug === "lakes") {
        return cache.l || (cache.l = new ol.style.Style({
          fill: new ol.style.Fill({ color: "rgba(158,202,225,0.8)" }), stroke: new ol.style.Stroke({ color: "#3182bd", width: 1 }),
        }));
      }
      const name = p.name_zh || p["名称"] || p.name || p.title || p.text;
      const key = type + "|" + (z >= 12 && name ? name : "");
      if (!cache[key]) {
        const s = plainStyle(colour);
        if (z >= 12 && name && type.endsWith("Point")) s.setText(text(String(name), "#202020", -12));
        cache[key] = s;
      }
      return cache[key];
    };
  }

  // The listed layers: GeoJSON for the raster modes, vector tiles for the vector mode.
  const format = new ol.format.GeoJSON();
  const overlays = {};
  const loaded = {};
  let features = 0;
  let pending = 0;
  const popup = document.getElementById("popup");
  const popupOverlay = new ol.Overlay({ element: popup, autoPan: { animation: { duration: 200 } }, offset: [0, -6], positioning: "bottom-center" });

  const map = new ol.Map({
    target: el,
    layers: [basemaps.GLOBAL_WEBMERCATOR, basemaps.cgcs2000_c],
    overlays: [popupOverlay],
    view: new ol.View({ projection: "EPSG:3857", center: ol.proj.fromLonLat([90.0, 41.0]), zoom: 5, maxZoom: LEVELS - 1 }),
  });
  let mode = "GLOBAL_WEBMERCATOR";

  function readFeatures(slug) {
    return format.readFeatures(loaded[slug], { dataProjection: "EPSG:4326", featureProjection: grids[mode].projection });
  }

  // Raster layers (orthophotos, scanned maps, DEM products): their own tiles from /tiles/ on the
  // current grid, above the basemap and under the vectors; the access check happens there.
  const rasters = {};
  function rasterSource(slug, grid) {
    return new ol.source.XYZ({
      url: TILES + "wmts/" + slug + "/" + grid + "/{z}/{x}/{y}.png",
      projection: grids[grid].projection, tileGrid: grids[grid].tileGrid, crossOrigin: "anonymous",
    });
  }
  entries.forEach((li) => {
    const box = li.querySelector(".toggle.raster");
    if (!box) return;
    const slug = li.dataset.slug;
    const layer = new ol.layer.Tile({ source: rasterSource(slug, "GLOBAL_WEBMERCATOR"), visible: box.checked,
                                      zIndex: 5, className: "raster raster-" + slug });
    rasters[slug] = layer;
    map.addLayer(layer);
    box.addEventListener("change", () => layer.setVisible(box.checked));
  });

  entries.forEach((li, i) => {
    const box = li.querySelector(".toggle");
    if (!box || box.classList.contains("raster")) return;
    const slug = li.dataset.slug;
    const colour = palette[i % palette.length];
    const member = basemapMembers.has(slug);
    const layer = new ol.layer.Vector({
      source: new ol.source.Vector(), style: member ? hidden : plainStyle(colour), visible: box.checked, zIndex: 10,
    });
    layer.set("slug", slug);
    overlays[slug] = { layer, box, colour, member, vt: null };
    map.addLayer(layer);
    pending += 1;
    fetch(box.dataset.url, { credentials: "same-origin" })
      .then((r) => { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then((fc) => {
        loaded[slug] = fc;
        const fs = readFeatures(slug);
        features += fs.length;
        layer.getSource().addFeatures(fs);
      })
      .catch((e) => console.error("layer " + slug + ": " + e))
      .finally(() => {
        pending -= 1;
        if (pending === 0) {
          const extent = ol.extent.createEmpty();
          Object.values(overlays).forEach((o) => {
            const e = o.layer.getSource().getExtent();
            if (!ol.extent.isEmpty(e)) ol.extent.extend(extent, e);
          });
          if (!ol.extent.isEmpty(extent)) map.getView().fit(extent, { padding: [20, 20, 20, 20], maxZoom: 16 });
          el.dataset.features = String(features);
          el.dataset.ready = Object.keys(loaded).sort().join(",");
        }
      });
    box.addEventListener("change", () => showLayer(slug));
  });
  if (pending === 0) { el.dataset.features = "0"; el.dataset.ready = ""; }

  function vectorTileLayer(slug) {
    const o = overlays[slug];
    if (o.vt) return o.vt;
    // No source until the TileJSON names the tile URL.
    o.vt = new ol.layer.VectorTile({ style: vectorStyle(slug, o.colour), declutter: true, visible: false, zIndex: 5 });
    o.vt.set("slug", slug);
    map.addLayer(o.vt);
    // The TileJSON names the tile URL (with the data version, so tiles are cached safely).
    fetch(VT + slug + ".json", { credentials: "same-origin" })
      .then((r) => { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then((tj) => {
        o.vt.setSource(new ol.source.VectorTile({
          format: new ol.format.MVT(), url: tj.tiles[0], maxZoom: tj.maxzoom, attributions: tj.attribution || undefined,
        }));
        o.vt.getSource().on("tileloadend", () => {
          tileCounts.vector = (tileCounts.vector || 0) + 1;
          el.dataset.tilesLoaded = JSON.stringify(tileCounts);
        });
      })
      .catch((e) => console.error("vector tiles " + slug + ": " + e));
    return o.vt;
  }

  function showLayer(slug) {
    const o = overlays[slug];
    o.layer.setVisible(mode !== "vector" && o.box.checked);
    if (mode === "vector" && o.box.checked) vectorTileLayer(slug).setVisible(true);
    else if (o.vt) o.vt.setVisible(false);
  }

  function setMode(next) {
    if (!grids[next] || next === mode) return;
    const view = map.getView();
    const before = grids[mode].projection;
    const after = grids[next].projection;
    mode = next;
    Object.entries(rasters).forEach(([slug, layer]) => {
      layer.setSource(rasterSource(slug, next === "cgcs2000_c" ? "cgcs2000_c" : "GLOBAL_WEBMERCATOR"));
    });
    if (before !== after) {
      const center = ol.proj.transform(view.getCenter(), before, after);
      // Both grids number their levels alike and share their resolutions along the parallels.
      const zoom = Math.round(view.getZoom());
      map.setView(after === cgcs2000
        ? new ol.View({ projection: cgcs2000, center, zoom, resolutions: cgcsResolutions, constrainResolution: true, extent: [-180, -90, 180, 90] })
        : new ol.View({ projection: after, center, zoom, maxZoom: LEVELS - 1 }));
      Object.keys(overlays).forEach((slug) => {
        if (!loaded[slug]) return;
        const source = overlays[slug].layer.getSource();
        source.clear(true);
        source.addFeatures(readFeatures(slug));
      });
    }
    basemaps.GLOBAL_WEBMERCATOR.setVisible(mode === "GLOBAL_WEBMERCATOR");
    basemaps.cgcs2000_c.setVisible(mode === "cgcs2000_c");
    Object.keys(overlays).forEach(showLayer);
    popupOverlay.setPosition(undefined);
    el.dataset.mode = mode;
    const radio = document.querySelector('#map-mode input[value="' + mode + '"]');
    if (radio) radio.checked = true;
  }

  document.querySelectorAll("#map-mode input[name=map-mode]").forEach((radio) => {
    radio.addEventListener("change", () => { if (radio.checked) setMode(radio.value); });
  });
  basemaps.GLOBAL_WEBMERCATOR.setVisible(true);
  el.dataset.mode = mode;

  // A click shows the attributes of the features under it.
  function escape(s) {
    return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }
  map.on("singleclick", (event) => {
    const rows = [];
    map.forEachFeatureAtPixel(event.pixel, (feature, layer) => {
      if (rows.length) return true;
      const props = feature.getProperties();
      Object.entries(props).forEach(([k, v]) => {
        if (k === "geometry" || v === null || v === "" || typeof v === "object") return;
        rows.push("<tr><th>" + escape(k) + "</th><td>" + escape(String(v)) + "</td></tr>");
      });
      if (layer && layer.get("slug")) rows.unshift('<tr><th colspan="2">' + escape(layer.get("slug")) + "</th></tr>");
      return true;
    }, { hitTolerance: 3 });
    if (!rows.length) { popupOverlay.setPosition(undefined); popup.hidden = true; return; }
    popup.innerHTML = "<table>" + rows.join("") + "</table>";
    popup.hidden = false;
    popupOverlay.setPosition(event.coordinate);
  });

  window.geoplatformMap = { map, setMode, grids, mode: () => mode };
})();
