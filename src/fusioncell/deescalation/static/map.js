/* The map page: an offline basemap (Natural Earth borders, a graticule), the zones, activities, conflicts and
   incidents the reader may see, a time slider, and drawing an activity to check and notify it.
   Every word shown comes from the page (data-config), translated by the server. */
(function () {
  "use strict";

  const HOUR = 3600 * 1000;
  const DRAFT = "fusioncell.map.draft";  // sessionStorage: the drawing kept across signing in again
  const STYLE = {
    zone: { color: "#b3261e", weight: 2, fillOpacity: 0.12 },
    proposed: { color: "#b3261e", weight: 2, dashArray: "6 6", fillOpacity: 0.04 },
    control: { color: "#5d6677", weight: 1, dashArray: "2 4", fillOpacity: 0.03 },
    activity: { color: "#1f4e8c", weight: 3, fillOpacity: 0.25 },
    conflict: { color: "#e8710a", weight: 4, fillOpacity: 0.35 },
    incident: { color: "#7b1fa2", weight: 3, fillOpacity: 0.3 },
    drawn: { color: "#0b8043", weight: 3, fillOpacity: 0.2 },
  };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  // Leaflet puts a tooltip's string in as HTML: every tooltip is a text node instead
  function text(value) {
    return el("span", { text: value });
  }

  function row(label, value) {
    return el("div", { class: "row" }, [el("dt", { text: label }), el("dd", { text: value })]);
  }

  function utc(iso) {
    return iso ? iso.replace("T", " ").replace(/:\d\d(\.\d+)?(Z|\+00:00)$/, "") + " UTC" : "";
  }

  function popup(lines, title) {
    const box = el("div", { class: "map-popup" }, [el("strong", { text: title })]);
    const list = el("dl");
    for (const [label, value] of lines) if (value !== null && value !== undefined && value !== "") list.append(row(label, value));
    box.append(list);
    return box;
  }

  function start() {
    const node = document.getElementById("map");
    if (!node || !window.L) return;
    const config = JSON.parse(node.dataset.config || "{}");
    const t = config.strings || {};
    const [west, south, east, north] = config.bounds;
    const map = L.map(node, { zoomSnap: 0.25, attributionControl: true, preferCanvas: false });
    node.leafletMap = map;  // for the browser tests, which draw on it as a person would
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution("Natural Earth");
    map.fitBounds([[south, west], [north, east]]);
    map.createPane("basemap").style.zIndex = 200;

    // the basemap: country borders from the world-atlas package, and a graticule every tenth of a degree
    fetch("/static/vendor/countries-10m.json").then((r) => r.json()).then((atlas) => {
      const land = topojson.feature(atlas, atlas.objects.countries);
      L.geoJSON(land, { pane: "basemap", interactive: false, style: { color: "#7d8597", weight: 1, fillColor: "#eef0e6", fillOpacity: 1 } }).addTo(map);
      node.dataset.basemap = "1";
    }).catch(() => { node.dataset.basemap = "missing"; });
    const graticule = L.layerGroup([], { pane: "basemap" }).addTo(map);
    function drawGraticule() {
      graticule.clearLayers();
      const b = map.getBounds();
      const span = Math.max(b.getEast() - b.getWest(), b.getNorth() - b.getSouth());
      // about six lines across, at a round step
      const step = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5].find((s) => span / s <= 8) || 10;
      const fmt = (v) => (Math.round(v * 100) / 100).toFixed(step < 0.1 ? 2 : step < 1 ? 1 : 0);
      for (let x = Math.ceil(b.getWest() / step) * step; x <= b.getEast(); x += step) {
        graticule.addLayer(L.polyline([[b.getSouth(), x], [b.getNorth(), x]], { color: "#9aa3b5", weight: 0.6, interactive: false, pane: "basemap" }));
        graticule.addLayer(L.marker([b.getSouth(), x], { interactive: false, pane: "basemap", icon: L.divIcon({ className: "graticule-label", html: "", iconSize: null }) }).bindTooltip(fmt(x) + "°E", { permanent: true, direction: "top", className: "graticule-tip" }));
      }
      for (let y = Math.ceil(b.getSouth() / step) * step; y <= b.getNorth(); y += step) {
        graticule.addLayer(L.polyline([[y, b.getWest()], [y, b.getEast()]], { color: "#9aa3b5", weight: 0.6, interactive: false, pane: "basemap" }));
        // on the east edge: the west edge holds the zoom and drawing tools, which would cover them
        graticule.addLayer(L.marker([y, b.getEast()], { interactive: false, pane: "basemap", icon: L.divIcon({ className: "graticule-label", html: "", iconSize: null }) }).bindTooltip(fmt(y) + "°N", { permanent: true, direction: "left", className: "graticule-tip" }));
      }
    }
    map.on("moveend", drawGraticule);
    drawGraticule();

    const layers = { zones: L.layerGroup().addTo(map), activities: L.layerGroup().addTo(map), conflicts: L.layerGroup().addTo(map), incidents: L.layerGroup().addTo(map) };
    const timed = [];  // activity layers with their windows, for the time slider

    function zoneLayer(f) {
      const p = f.properties;
      const style = p.status === "proposed" ? STYLE.proposed : p.kind === "control-area" ? STYLE.control : STYLE.zone;
      const name = (p.names && p.names[config.lang]) || p.name;
      const rules = p.rules || {};
      const lines = [
        [t.state, (p.status === "proposed" ? t.proposed : t.in_force) + (p.approximate ? " · " + t.approximate : "")],
        [t.forbidden, (rules.forbidden || []).map((x) => config.types[x] || x).join(", ")],
        [t.caps, Object.entries(rules.caps || {}).map(([k, v]) => (config.equipment[k] || k) + " ≤ " + v).join(", ")],
        [t.notice, Object.entries(rules.notice || {}).map(([k, v]) => (config.types[k] || k) + ": " + v).join(", ")],
      ];
      return L.geoJSON(f, { style: () => style }).bindPopup(() => popup(lines, name)).bindTooltip(() => text(name), { sticky: true });
    }

    function circleOrShape(f, style) {
      const p = f.properties;
      if (f.geometry.type === "Point" && p.radius_m !== undefined) {
        const [lon, lat] = f.geometry.coordinates;
        return L.circle([lat, lon], Object.assign({ radius: Math.max(p.radius_m, 1) }, style));
      }
      return L.geoJSON(f, { style: () => style, pointToLayer: (_, latlng) => L.circleMarker(latlng, Object.assign({ radius: 7 }, style)) });
    }

    function activityLayer(f) {
      const p = f.properties;
      const layer = circleOrShape(f, STYLE.activity);
      const title = p.delegation + " · " + (config.types[p.activity_type] || p.activity_type);
      layer.bindPopup(() => popup([
        [t.state, t[p.state] || p.state],
        [t.window, utc(p.start) + " – " + utc(p.end)],
        [t.altitude, p.lower_m + "–" + p.upper_m + " m " + p.datum],
        [t.radius, p.radius_m + " m"],
        [t.forces, Object.entries(p.forces || {}).map(([k, v]) => (config.equipment[k] || k) + " " + v).join(", ")],
        ["", p.description],
      ], title)).bindTooltip(() => text(title), { sticky: true });
      layer.feature = f;
      timed.push({ layer, start: Date.parse(p.start), end: Date.parse(p.end) });
      return layer;
    }

    function conflictLayer(f) {
      const p = f.properties;
      const summary = p.kind === "withheld" ? t.withheld : p.summary;
      return circleOrShape(f, STYLE.conflict).bindPopup(() => popup([["", summary]], t.conflicts)).bindTooltip(() => text(summary), { sticky: true });
    }

    function incidentLayer(f) {
      const p = f.properties;
      return circleOrShape(f, STYLE.incident).bindPopup(() => popup([
        [t.occurred, utc(p.occurred_at)],
        ["", p.description],
        [t.evidence, String((p.evidence || []).length)],
      ], p.delegation + " · " + p.kind)).bindTooltip(() => text(p.kind), { sticky: true });
    }

    // A session that has ended: to sign in, then back to this page (what the drawing held is kept for it).
    function signedOut(r) {
      if (r.status !== 401) return false;
      if (drawn) sessionStorage.setItem(DRAFT, JSON.stringify({ user: config.username, geometry: drawn.toGeoJSON().geometry }));
      location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      return true;
    }

    function load() {
      return fetch("/map/features.json", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((r) => (signedOut(r) ? new Promise(() => {}) : r.json()))
        .then((collection) => {
          for (const group of Object.values(layers)) group.clearLayers();
          timed.length = 0;
          for (const f of collection.features) {
            const layer = f.properties.layer;
            if (layer === "zones") layers.zones.addLayer(zoneLayer(f));
            else if (layer === "activities") layers.activities.addLayer(activityLayer(f));
            else if (layer === "conflicts") layers.conflicts.addLayer(conflictLayer(f));
            else if (layer === "incidents") layers.incidents.addLayer(incidentLayer(f));
          }
          if (!node.dataset.loaded && layers.zones.getLayers().length) {  // the first time, frame the zones
            map.fitBounds(L.featureGroup(layers.zones.getLayers()).getBounds(), { padding: [24, 24], animate: false });
          }
          node.dataset.zones = String(layers.zones.getLayers().length);
          node.dataset.activities = String(layers.activities.getLayers().length);
          node.dataset.loaded = "1";
          showTime();
        });
    }

    // the time slider: hours from now; activities whose window does not hold that hour are faded
    const slider = document.getElementById("map-time");
    const label = document.getElementById("map-time-label");
    const base = Math.floor(Date.parse(config.now) / HOUR) * HOUR;
    function showTime() {
      if (!slider) return;
      const at = base + Number(slider.value) * HOUR;
      label.textContent = utc(new Date(at).toISOString());
      for (const { layer, start, end } of timed) {
        const on = start <= at && at < end;
        layer.setStyle && layer.setStyle({ opacity: on ? 1 : 0.25, fillOpacity: on ? 0.3 : 0.05 });
      }
    }
    if (slider) slider.addEventListener("input", showTime);

    for (const box of document.querySelectorAll("[data-layer]")) {
      box.addEventListener("change", () => {
        const group = layers[box.dataset.layer];
        if (box.checked) group.addTo(map); else group.remove();
      });
    }

    // drawing and notifying
    const form = document.getElementById("notify");
    let drawn = null;
    // one id per drawing: a second press of Notify, or a resend after an answer lost on the way, notifies it once
    let txn = null;
    const newTxn = () => "map-" + Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
    if (form && map.pm) {
      map.pm.setLang(config.lang === "he" ? "he" : config.lang === "ar" ? "ar" : "en");
      map.pm.addControls({ position: "topleft", drawMarker: true, drawPolyline: true, drawPolygon: true, drawRectangle: true,
        drawCircle: false, drawCircleMarker: false, drawText: false, editMode: true, dragMode: false, cutPolygon: false, rotateMode: false, removalMode: true });
      // while drawing, a click places a vertex: the shapes below do not take it (nor open their popups)
      map.on("pm:drawstart", () => { map.closePopup(); node.classList.add("drawing"); });
      map.on("pm:drawend", () => node.classList.remove("drawing"));
      const keep = (layer) => {
        if (drawn) map.removeLayer(drawn);
        drawn = layer;
        txn = newTxn();
        drawn.setStyle && drawn.setStyle(STYLE.drawn);
        document.getElementById("drawn").textContent = JSON.stringify(drawn.toGeoJSON().geometry.coordinates).slice(0, 120);
        node.dataset.drawn = drawn.toGeoJSON().geometry.type;
      };
      map.on("pm:create", (e) => keep(e.layer));
      map.on("pm:remove", (e) => { if (e.layer === drawn) { drawn = null; delete node.dataset.drawn; } });
      // what was drawn when the session ended, back after signing in again
      // (only for the same person: another signing in on this tab does not get it)
      const draft = sessionStorage.getItem(DRAFT);
      sessionStorage.removeItem(DRAFT);
      if (draft) {
        try {
          const kept = JSON.parse(draft);
          if (kept.user === config.username) keep(L.geoJSON(kept.geometry).getLayers()[0].addTo(map));
        } catch (e) { /* not a shape: dropped */ }
      }
      const soon = new Date(base + 96 * HOUR);
      form.elements.start.value = soon.toISOString().slice(0, 16);
      form.elements.end.value = new Date(soon.getTime() + 6 * HOUR).toISOString().slice(0, 16);
    }

    const result = document.getElementById("result");
    let conflicts = [];

    function body() {
      const f = form.elements;
      const forces = {};
      for (const input of form.querySelectorAll("[name^='force:']")) {
        const n = Number(input.value);
        if (n > 0) forces[input.name.slice(6)] = n;
      }
      const acknowledge = [...result.querySelectorAll("input[data-ref]:checked")].map((b) => b.dataset.ref);
      const out = {
        audience: f.audience.value,
        activity_type: f.activity_type.value,
        geometry: drawn.toGeoJSON().geometry,
        radius_m: Number(f.radius_m.value),
        altitude: { lower_m: Number(f.lower_m.value), upper_m: Number(f.upper_m.value), datum: f.datum.value },
        start: f.start.value + ":00Z",
        end: f.end.value + ":00Z",
        forces,
        description: f.description.value,
        acknowledge,
      };
      if (f.justification.value.trim()) out.justification = f.justification.value;
      return out;
    }

    function show(answer, status) {
      result.replaceChildren();
      result.className = status >= 400 && status !== 409 ? "error" : "";
      if (status === 201 || (status === 200 && answer.id)) {  // notified (200: it had been, the answer lost)
        result.append(el("p", { class: "ok", text: t.notified }));
        if (drawn) { map.removeLayer(drawn); drawn = null; }
        load();
        return;
      }
      if (answer.conflicts) {
        conflicts = answer.conflicts;
        if (!conflicts.length) { result.append(el("p", { class: "ok", text: t.no_conflicts })); return; }
        const list = el("ul", { class: "conflicts", "data-testid": "conflicts" });
        for (const c of conflicts) {
          const text = c.kind === "withheld" ? t.withheld : c.summary;
          const item = el("li", { "data-kind": c.kind }, [el("span", { text })]);
          if (c.kind !== "notice") {
            const box = el("input", { type: "checkbox", "data-ref": c.ref });
            item.append(el("label", { class: "check" }, [box, " " + t.acknowledge]));
          }
          list.append(item);
        }
        result.append(list);
        if (answer.detail) result.append(el("p", { class: "warning", text: answer.detail }));
        return;
      }
      result.append(el("p", { text: answer.detail || t.failed }));
    }

    function send(path) {
      if (!drawn) { result.replaceChildren(el("p", { class: "warning", text: t.draw_first })); return; }
      const sent = body();  // before the list of conflicts (and what was ticked) is replaced
      if (path === "/map/activities") sent.client_txn_id = txn;
      const payload = JSON.stringify(sent);
      result.replaceChildren(el("p", { class: "muted", text: t.checking }));
      fetch(path, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": form.dataset.csrf, Accept: "application/json" },
        body: payload,
      }).then((r) => signedOut(r) || r.json().then((answer) => show(answer, r.status)))
        .catch(() => result.replaceChildren(el("p", { class: "error", text: t.failed })));
    }

    if (form) {
      form.querySelector("[data-action=check]").addEventListener("click", () => send("/map/check"));
      form.addEventListener("submit", (e) => { e.preventDefault(); send("/map/activities"); });
    }
    load();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
