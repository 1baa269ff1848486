// cyclerctl web: keeps the overview live (server-sent events) and draws a run's plots
// (plotly.js from the plotly wheel, served by this server). No build step, no CDN.
"use strict";

const fmt = {
  num(v, scale, digits) { return v === null || v === undefined || !isFinite(v) ? "" : fmtG(v * scale, digits); },
  duration(s) {
    if (s === null || s === undefined || !isFinite(s)) return "";
    s = Math.max(s, 0);
    let m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
    m %= 60; h %= 24;
    const p = (n) => String(n).padStart(2, "0");
    if (d) return `${d}d${p(h)}h`;
    return h ? `${h}h${p(m)}m` : `${m}m${p(Math.floor(s % 60))}s`;
  },
};
// Python's format(x, ".4g"): 4 significant digits, no trailing zeros
function fmtG(x, digits) {
  if (x === 0) return "0";
  const e = Math.floor(Math.log10(Math.abs(x)));
  if (e < -4 || e >= digits) {
    let [m, ex] = x.toExponential(digits - 1).split("e");
    if (m.includes(".")) m = m.replace(/0+$/, "").replace(/\.$/, "");
    const n = parseInt(ex, 10);
    return `${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  let s = x.toFixed(Math.max(digits - 1 - e, 0));
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  return s;
}

// what the server renders in each overview cell (pages.cell_text), for live updates
function cellText(row, key) {
  switch (key) {
    case "state": return row.alarm ? `${row.state} (${row.alarm})` : row.state;
    case "run_id": return row.run_id === null ? "" : String(row.run_id);
    case "step": {
      if (row.step === null) return "";
      const name = row.step_name ? ` ${row.step_name}` : "";
      return `${row.step}${name}${row.cycle === null ? "" : ` / ${row.cycle}`}`;
    }
    case "V": return row.V === null ? "" : row.V.toFixed(4);
    case "I": return fmt.num(row.I, 1e3, 4);
    case "capacity_Ah": return fmt.num(row.capacity_Ah, 1e3, 4);
    case "eta_s": return fmt.duration(row.eta_s);
    case "queued": return row.queued ? String(row.queued) : "";
    default: return row[key] === null || row[key] === undefined ? "" : String(row[key]);
  }
}

function setCell(td, key, row) {
  const text = cellText(row, key);
  const linked = (key === "run_id" || key === "channel") && row.run_id !== null;
  if (linked) {
    let a = td.querySelector("a");
    if (!a) { td.textContent = ""; a = document.createElement("a"); td.appendChild(a); }
    a.href = `/runs/${row.run_id}`;
    if (a.textContent !== text) a.textContent = text;
  } else if (td.textContent !== text) {
    td.textContent = text;
  }
}

function overviewPage() {
  const table = document.getElementById("overview");
  const body = table.tBodies[0];
  const columns = [...table.tHead.rows[0].cells].map((th) => th.dataset.col);
  const form = document.getElementById("filters");
  const live = document.getElementById("live");
  const all = new Map();  // channel → last row seen

  function rowFor(channel) {
    let tr = document.getElementById(`ch-${channel}`);
    if (!tr) {
      tr = document.createElement("tr");
      tr.id = `ch-${channel}`;
      tr.dataset.channel = channel;
      for (const key of columns) { const td = tr.insertCell(); td.dataset.col = key; }
      body.appendChild(tr);
    }
    return tr;
  }
  function matches(row) {
    const state = form.state.value, q = form.q.value.trim().toLowerCase();
    if (state && row.state !== state) return false;
    if (!q) return true;
    return [row.channel, row.protocol, row.cell, row.operator].filter(Boolean).join(" ").toLowerCase().includes(q);
  }
  function show(row) {
    const tr = rowFor(row.channel);
    const before = tr.dataset.v;
    for (const td of tr.cells) setCell(td, td.dataset.col, row);
    tr.dataset.state = row.state;
    tr.className = `state-${row.state.replace(/ /g, "-")}`;
    tr.dataset.v = `${row.V}|${row.I}`;
    if (before !== undefined && before !== tr.dataset.v) tr.classList.add("changed");
    tr.hidden = !matches(row);
  }
  function summary() {
    const counts = {};
    for (const row of all.values()) counts[row.state] = (counts[row.state] || 0) + 1;
    const el = document.getElementById("summary");
    el.textContent = "";
    Object.keys(counts).sort().forEach((s, i) => {
      if (i) el.append(" · ");
      const span = document.createElement("span");
      span.className = `state-${s.replace(/ /g, "-")}`;
      span.textContent = `${counts[s]} ${s}`;
      el.appendChild(span);
    });
  }
  function refilter() {
    for (const row of all.values()) rowFor(row.channel).hidden = !matches(row);
    const params = new URLSearchParams();
    if (form.state.value) params.set("state", form.state.value);
    if (form.q.value) params.set("q", form.q.value);
    history.replaceState(null, "", params.toString() ? `/?${params}` : "/");
  }
  form.addEventListener("input", refilter);
  form.addEventListener("change", refilter);
  form.addEventListener("submit", (e) => { e.preventDefault(); refilter(); });

  const source = new EventSource("/events/overview");
  source.onopen = () => { live.className = "live on"; live.textContent = "live"; };
  source.onerror = () => { live.className = "live off"; live.textContent = "reconnecting…"; };
  source.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.error) { live.className = "live off"; live.textContent = msg.error; }
    else if (live.className !== "live on") { live.className = "live on"; live.textContent = "live"; }
    if (msg.full) {
      const seen = new Set(msg.rows.map((r) => r.channel));
      for (const tr of [...body.rows]) if (!seen.has(tr.dataset.channel)) tr.remove();
      all.clear();
    }
    for (const name of msg.gone || []) { all.delete(name); const tr = document.getElementById(`ch-${name}`); if (tr) tr.remove(); }
    for (const row of msg.rows || []) { all.set(row.channel, row); show(row); }
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    summary();
  };
}

// -- run page ----------------------------------------------------------------------------

const PLOT_CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] };
const MARGIN = { l: 60, r: 20, t: 30, b: 50 };
// legends above the plot, in a row: on a phone a legend at the side would squeeze the plot
const LEGEND = { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" };

async function getJSON(url) {
  const r = await fetch(url, { credentials: "same-origin" });
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

function runPage() {
  const config = JSON.parse(document.getElementById("run-config").textContent);
  const base = `/api/runs/${config.run}`;
  const vi = document.getElementById("plot-vi");
  const note = document.getElementById("plot-vi-note");
  let hours = false, zoomed = false, drawn = false;

  async function drawVI(range) {
    const width = Math.max(200, Math.round(vi.clientWidth || 800));
    let url = `${base}/plot?width=${width}`;
    if (range) url += `&t0=${range[0]}&t1=${range[1]}`;
    const d = await getJSON(url);
    const tMax = d.t.length ? d.t[d.t.length - 1] : 0;
    if (!drawn) hours = tMax > 7200;
    const k = hours ? 1 / 3600 : 1;
    const x = d.t.map((t) => t * k), xi = d.tI.map((t) => t * k);
    const mode = d.t.length < 50 ? "lines+markers" : "lines";
    const traces = [
      { x, y: d.V, name: "V", mode, line: { width: 1, color: "#0969da" }, yaxis: "y" },
      { x: xi, y: d.I.map((i) => i * 1e3), name: "I", mode, line: { width: 1, color: "#bc4c00" }, yaxis: "y2" },
    ];
    const layout = {
      margin: MARGIN, showlegend: false, height: 420,
      grid: { rows: 2, columns: 1, shared_xaxes: true },
      xaxis: { title: { text: hours ? "time / h" : "time / s" }, anchor: "y2" },
      yaxis: { title: { text: "V / V" }, domain: [0.52, 1] },
      yaxis2: { title: { text: "I / mA" }, domain: [0, 0.46] },
    };
    if (range) { layout.xaxis.range = [range[0] * k, range[1] * k]; layout.xaxis.autorange = false; }
    if (!drawn) {
      await Plotly.newPlot(vi, traces, layout, PLOT_CONFIG);
      drawn = true;
      vi.on("plotly_relayout", (ev) => {
        const a = ev["xaxis.range[0]"], b = ev["xaxis.range[1]"];
        if (a !== undefined && b !== undefined) { zoomed = true; drawVI([a / k, b / k]); }
        else if (ev["xaxis.autorange"]) { zoomed = false; drawVI(null); }
      });
    } else {
      await Plotly.react(vi, traces, layout, PLOT_CONFIG);
    }
    vi.dataset.points = String(d.t.length);
    note.textContent = `${d.points_in_range.toLocaleString()} of ${d.total_points.toLocaleString()} points; ${d.t.length.toLocaleString()} drawn (${d.method})`;
  }
  drawVI(null).catch((e) => { note.textContent = String(e); });
  if (config.active) setInterval(() => { if (!zoomed) drawVI(null).catch(() => {}); }, 2000);

  if (config.impedance) {
    getJSON(`${base}/impedance`).then((d) => {
      const mag = d.Zre.map((re, i) => Math.hypot(re, d.Zim[i]));
      const phase = d.Zre.map((re, i) => (Math.atan2(d.Zim[i], re) * 180) / Math.PI);
      Plotly.newPlot("plot-nyquist", [{ x: d.Zre, y: d.Zim.map((z) => -z), mode: "markers+lines", marker: { size: 4 }, name: "Nyquist" }],
        { margin: MARGIN, height: 360, xaxis: { title: { text: "Z' / Ω" } }, yaxis: { title: { text: "−Z'' / Ω" }, scaleanchor: "x" } }, PLOT_CONFIG);
      Plotly.newPlot("plot-bode", [
        { x: d.f, y: mag, mode: "markers+lines", marker: { size: 4 }, name: "|Z|" },
        { x: d.f, y: phase, mode: "markers+lines", marker: { size: 4 }, name: "phase", yaxis: "y2" },
      ], { margin: { ...MARGIN, r: 60 }, height: 360, showlegend: false,
        xaxis: { type: "log", title: { text: "f / Hz" } }, yaxis: { type: "log", title: { text: "|Z| / Ω" } },
        yaxis2: { overlaying: "y", side: "right", title: { text: "phase / °" } } }, PLOT_CONFIG);
      document.getElementById("plot-nyquist").dataset.points = String(d.f.length);
    });
  }

  if (config.cycles && config.cycles.length) {
    const rows = config.cycles;
    const unit = rows[0].discharge_capacity_mAh_g !== null && rows[0].discharge_capacity_mAh_g !== undefined ? "_mAh_g" : "_mAh";
    const n = rows.map((r) => r.cycle);
    Plotly.newPlot("plot-cycles", [
      { x: n, y: rows.map((r) => r[`discharge_capacity${unit}`]), name: "discharge", mode: "lines+markers" },
      { x: n, y: rows.map((r) => r[`charge_capacity${unit}`]), name: "charge", mode: "lines+markers" },
      { x: n, y: rows.map((r) => (r.coulombic_efficiency === null ? null : r.coulombic_efficiency * 100)), name: "CE", mode: "lines+markers", yaxis: "y2" },
    ], { margin: { ...MARGIN, r: 60, t: 50 }, height: 380, legend: LEGEND,
      xaxis: { title: { text: "cycle" } }, yaxis: { title: { text: unit === "_mAh_g" ? "capacity / mAh g⁻¹" : "capacity / mAh" } },
      yaxis2: { overlaying: "y", side: "right", title: { text: "CE / %" } } }, PLOT_CONFIG);
    getJSON(`${base}/dqdv`).then((d) => {
      const el = document.getElementById("plot-dqdv");
      el.textContent = "";
      if (!d.curves.length) { el.textContent = d.note || "no dQ/dV"; el.classList.add("note"); return; }
      const traces = d.curves.map((c) => ({ x: c.V, y: c.half === "discharge" ? c.dqdv.map((v) => (v === null ? null : -v)) : c.dqdv,
        name: `cycle ${c.cycle} ${c.half}`, mode: "lines" }));
      Plotly.newPlot(el, traces, { margin: { ...MARGIN, t: 70 }, height: 420, legend: LEGEND, xaxis: { title: { text: "V / V" } },
        yaxis: { title: { text: `dQ/dV / ${d.curves[0].capacity_unit} V⁻¹` } } }, PLOT_CONFIG);
    }).catch((e) => { document.getElementById("plot-dqdv").textContent = String(e); });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "overview") overviewPage();
  else if (page === "run") runPage();
});
