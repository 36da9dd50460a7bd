// dtmon detector health: the status strip at the top, cell maps and time-box fits.
//
// A separate module from dashboard.js on purpose: it only reads GET api/v1/health (polled,
// so it takes no server-sent-event slot) and draws into the #dqm-* elements. Cell positions
// come from the server (minidt's geometry), never from constants here.
// Security: server text (reasons, messages) only ever goes through textContent.

const Plotly = window.Plotly;
const POLL_MS = 2000;
const CHAMBERS_TOP_DOWN = [3, 2, 1, 0];
const CHAMBER_COLOR = { 0: "#e69f00", 1: "#56b4e9", 2: "#009e73", 3: "#cc79a7" };
const FLAG_STYLE = {
  dead: { color: "#ef5350", symbol: "x-thin-open", label: "dead" },
  noisy: { color: "#ffffff", symbol: "triangle-up-open", label: "noisy" },
  bursting: { color: "#ff5cf4", symbol: "star-open", label: "bursting" },
};
// Cell outlines keep the warning colours (the markers must contrast with amber hot cells).
const OUTLINE = { dead: "#ef5350", noisy: "#f0b429", bursting: "#ff5cf4" };
const STATUS_TEXT = { green: "good", yellow: "check", red: "bad", unknown: "waiting" };

const $ = (id) => document.getElementById(id);
const fs = (px) =>
  Math.round((px * parseFloat(getComputedStyle(document.documentElement).fontSize)) / 14);
const CONFIG = { displaylogo: false, responsive: true, displayModeBar: false };
const num = (x, d = 1) => (x === null || x === undefined ? "–" : x.toFixed(d));

function axis(title, extra = {}) {
  return {
    gridcolor: "#223041",
    zerolinecolor: "#2c3b4e",
    linecolor: "#2c3b4e",
    tickfont: { size: fs(10), color: "#9fb0c3" },
    title: { text: title, font: { size: fs(11), color: "#b7c4d3" }, standoff: 4 },
    automargin: true,
    ...extra,
  };
}

function layout(extra) {
  return {
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: "#d8e0ea", size: fs(11), family: "Inter, Segoe UI, system-ui, sans-serif" },
    hoverlabel: { bgcolor: "#0c1117", bordercolor: "#56b4e9", font: { color: "#e8edf3" } },
    uirevision: "keep",
    ...extra,
  };
}

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

function setStatus(el, status) {
  for (const s of Object.keys(STATUS_TEXT)) el.classList.toggle(`st-${s}`, s === status);
  el.dataset.status = status;
}

// ---------- status strip ------------------------------------------------------------------

function buildStatusStrip() {
  const strip = $("dqm-status");
  for (const c of CHAMBERS_TOP_DOWN) {
    const tile = document.createElement("div");
    tile.className = "dqm-chamber st-unknown";
    tile.id = `dqm-ch${c}`;
    tile.dataset.status = "unknown";
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = `Chamber ${c}`;
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = STATUS_TEXT.unknown;
    const reasons = document.createElement("ul");
    reasons.className = "dqm-reasons";
    tile.append(label, value, reasons);
    strip.append(tile);
  }
}

function drawStatus(report) {
  const overall = $("dqm-overall");
  setStatus(overall, report.status);
  setText(overall.querySelector(".value"), STATUS_TEXT[report.status]);
  const basis =
    report.basis === "reference"
      ? `vs reference (${report.reference.batches} batches)`
      : "vs each chamber's median channel";
  setText(
    $("dqm-basis"),
    report.window_batches ? `${report.window_batches} batches in window · ${basis}` : "no data yet",
  );
  for (const ch of report.chambers) {
    const tile = $(`dqm-ch${ch.chamber}`);
    setStatus(tile, ch.status);
    setText(tile.querySelector(".value"), STATUS_TEXT[ch.status]);
    const list = tile.querySelector(".dqm-reasons");
    const items = ch.reasons.length ? ch.reasons : ch.status === "green" ? ["all checks pass"] : [];
    list.replaceChildren(
      ...items.map((r) => {
        const li = document.createElement("li");
        li.textContent = r;
        li.title = r;
        return li;
      }),
    );
  }
  const t = report.thresholds;
  setText(
    $("dqm-thresholds"),
    `false alarm ${t.false_alarm} per evaluation (per test ${t.alpha.toExponential(1)}); ` +
      `a dead call needs ≥ ${t.min_expected_dead.toFixed(1)} expected hits`,
  );
}

// ---------- cell maps ---------------------------------------------------------------------

function buildDetail() {
  const detail = $("dqm-detail");
  const trends = detail.querySelector(".dqm-trends");
  for (const c of CHAMBERS_TOP_DOWN) {
    const head = document.createElement("div");
    head.className = `dqm-rowhead ch${c}`;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = `Chamber ${c}`;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.id = `dqm-flags-${c}`;
    meta.textContent = "–";
    head.append(name, meta);
    const map = document.createElement("div");
    map.className = "plot plot-cells dqm";
    map.id = `dqm-cells-${c}`;
    const fit = document.createElement("div");
    fit.className = "dqm-fit";
    fit.id = `dqm-fit-${c}`;
    detail.insertBefore(head, trends);
    detail.insertBefore(map, trends);
    detail.insertBefore(fit, trends);
  }
}

// Occupancy relative to expectation: 0 (blue) .. 1 (green) .. >= 2 (amber).
function ratioColor(r) {
  const stops = [
    [0, [37, 59, 110]],
    [1, [58, 157, 93]],
    [2, [240, 180, 41]],
  ];
  const x = Math.max(0, Math.min(2, Number.isFinite(r) ? r : 0));
  const [a, b] = x <= 1 ? [stops[0], stops[1]] : [stops[1], stops[2]];
  const f = (x - a[0]) / (b[0] - a[0]);
  const rgb = a[1].map((v, i) => Math.round(v + f * (b[1][i] - v)));
  return `rgb(${rgb.join(",")})`;
}

function drawCells(ch) {
  const m = ch.cells;
  const halfW = m.cell_width_mm / 2;
  const halfH = m.cell_height_mm / 2;
  const ratio = m.counts.map((n, i) => (m.expected[i] > 0 ? n / m.expected[i] : n > 0 ? 2 : 1));
  const shapes = m.x_mm.map((x, i) => ({
    type: "rect",
    x0: x - halfW,
    x1: x + halfW,
    y0: m.z_mm[i] - halfH,
    y1: m.z_mm[i] + halfH,
    fillcolor: ratioColor(ratio[i]),
    line: m.flags[i].length
      ? { color: OUTLINE[m.flags[i][0]], width: 2.5 }
      : { color: "#0c1117", width: 1 },
    layer: "below",
  }));
  const hover = m.channel.map((channel, i) => {
    const flags = m.flags[i].length ? ` · ${m.flags[i].join(", ").toUpperCase()}` : "";
    const bursts = m.bursts[i] ? ` · ${m.bursts[i]} burst${m.bursts[i] > 1 ? "s" : ""}` : "";
    return (
      `channel ${channel} · layer ${m.layer[i]} cell ${m.cell[i]}<br>` +
      `${m.counts[i]} hits, ${m.expected[i].toFixed(1)} expected${bursts}${flags}`
    );
  });
  const traces = [
    {
      type: "scatter",
      mode: "markers",
      x: m.x_mm,
      y: m.z_mm,
      text: hover,
      hovertemplate: "%{text}<extra></extra>",
      marker: { size: 14, opacity: 0 },
      showlegend: false,
      name: "cells",
    },
  ];
  for (const [flag, style] of Object.entries(FLAG_STYLE)) {
    const idx = m.flags.map((f, i) => (f.includes(flag) ? i : -1)).filter((i) => i >= 0);
    traces.push({
      type: "scatter",
      mode: "markers",
      x: idx.map((i) => m.x_mm[i]),
      y: idx.map((i) => m.z_mm[i]),
      name: style.label,
      hoverinfo: "skip",
      marker: { symbol: style.symbol, size: 13, color: style.color, line: { width: 2.5, color: style.color } },
      showlegend: idx.length > 0,
    });
  }
  const xmax = Math.max(...m.x_mm) + halfW;
  Plotly.react(
    `dqm-cells-${ch.chamber}`,
    traces,
    layout({
      margin: { l: 44, r: 8, t: 8, b: 30 },
      shapes,
      showlegend: true,
      legend: { orientation: "h", x: 1, xanchor: "right", y: 1.02, yanchor: "bottom", font: { size: fs(10) } },
      xaxis: axis(ch.chamber === 1 ? "y (mm, rotated chamber)" : "x (mm)", {
        range: [0, xmax],
        showgrid: false,
        zeroline: false,
      }),
      yaxis: axis("layer", {
        range: [0, 4 * m.cell_height_mm],
        tickvals: [1, 2, 3, 4].map((l) => (l - 0.5) * m.cell_height_mm),
        ticktext: ["1", "2", "3", "4"],
        showgrid: false,
        zeroline: false,
        fixedrange: true,
      }),
    }),
    CONFIG,
  );
  setText(
    $(`dqm-flags-${ch.chamber}`),
    `${ch.dead} dead · ${ch.noisy} noisy · ${ch.bursting} bursting`,
  );
}

function fitLine(label, fit) {
  const p = document.createElement("div");
  if (!fit.converged) {
    p.className = "fail";
    p.textContent = `${label}: no fit (${fit.message})`;
  } else {
    p.textContent =
      `${label}: t0 ${num(fit.t0_ns)} ± ${num(fit.t0_err_ns)} ns · ` +
      `t_max ${num(fit.t_max_ns)} ± ${num(fit.t_max_err_ns)} ns · ` +
      `v ${num(fit.drift_velocity_um_per_ns, 2)} ± ${num(fit.drift_velocity_err_um_per_ns, 2)} µm/ns`;
  }
  return p;
}

function drawFit(ch) {
  $(`dqm-fit-${ch.chamber}`).replaceChildren(
    fitLine("window", ch.fit_window),
    fitLine("cumulative", ch.fit_cumulative),
  );
}

// ---------- fit trend -----------------------------------------------------------------------

function drawTrends(trend) {
  const x = trend.map((p) => new Date(p.emitted_at_ms));
  // One point: a minute either side instead of Plotly's millisecond ticks.
  const single = x.length === 1 ? [new Date(+x[0] - 60000), new Date(+x[0] + 60000)] : null;
  const plots = [
    ["dqm-trend-t0", "t0_ns", "t0_err_ns", "Time-box t0 (window fit)", "ns"],
    ["dqm-trend-tmax", "t_max_ns", "t_max_err_ns", "Time-box t_max (window fit)", "ns"],
    [
      "dqm-trend-v",
      "drift_velocity_um_per_ns",
      "drift_velocity_err_um_per_ns",
      "Drift velocity 21 mm / (t_max − t0)",
      "µm/ns",
    ],
  ];
  for (const [id, key, errKey, title, unit] of plots) {
    const traces = [0, 1, 2, 3].map((c) => ({
      type: "scatter",
      mode: "lines+markers",
      x,
      y: trend.map((p) => p[key][c]),
      error_y: { type: "data", array: trend.map((p) => p[errKey][c]), visible: true, thickness: 1, width: 0 },
      name: `ch ${c}`,
      line: { color: CHAMBER_COLOR[c], width: 1.5 },
      marker: { size: 3 },
      connectgaps: false,
      hovertemplate: `%{y:.2f} ${unit}<extra>ch ${c}</extra>`,
    }));
    Plotly.react(
      id,
      traces,
      layout({
        title: { text: title, font: { size: fs(13) }, x: 0.02, y: 0.97, yanchor: "top" },
        margin: { l: 52, r: 10, t: 46, b: 38 },
        legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom", font: { size: fs(10) } },
        xaxis: axis("evaluated batch emitted at (local time)", {
          type: "date",
          ...(single ? { range: single, autorange: false } : { autorange: true }),
        }),
        yaxis: axis(unit),
      }),
      CONFIG,
    );
  }
}

// ---------- polling ---------------------------------------------------------------------------

const state = { report: null, drawnKey: null };

async function refresh() {
  const paused = window.dtmon && window.dtmon.state && window.dtmon.state.paused;
  if (paused && state.report) return;
  try {
    const response = await fetch("api/v1/health", { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const report = await response.json();
    state.report = report;
    const key = `${report.query_id}:${report.last_batch_id}:${report.trend.length}`;
    if (key === state.drawnKey) return;
    state.drawnKey = key;
    drawStatus(report);
    for (const ch of report.chambers) {
      drawCells(ch);
      drawFit(ch);
    }
    drawTrends(report.trend);
  } catch (err) {
    setText($("dqm-basis"), `health unavailable: ${err.message}`);
  }
}

function main() {
  buildStatusStrip();
  buildDetail();
  refresh();
  setInterval(refresh, POLL_MS);
  window.dtmonHealth = { state }; // for the browser test and for debugging
}

main();
