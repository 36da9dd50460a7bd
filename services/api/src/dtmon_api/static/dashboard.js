// dtmon live dashboard: one ES module, no framework, no build step.
//
// Data flow: on load (and after every reconnect) it fetches /api/v1/status, /api/v1/timeseries
// and /api/v1/summary; then every server-sent event (one per batch) appends a time-series
// point and refreshes the histograms with Plotly.react (in place, no flicker). Series are
// capped at MAX_POINTS so an hour at one batch per second never grows memory.
// Security: text from messages (query ids...) only ever goes through textContent.

const Plotly = window.Plotly;
const MAX_POINTS = 600;
const CHAMBERS_TOP_DOWN = [3, 2, 1, 0];
const CHAMBER_Z_MM = { 0: 219.8, 1: 977.3, 2: 1035.6, 3: 1819.8 };
const CHAMBER_COLOR = { 0: "#e69f00", 1: "#56b4e9", 2: "#009e73", 3: "#cc79a7" };
const TOTAL_COLOR = "#e8edf3";
const MAX_DRIFT_NS = 21 / 0.0538;
const QUANTITIES = [
  { key: "occupancy", x: "TDC channel", y: "hits" },
  { key: "orbit_multiplicity", x: "active channels in orbit", y: "orbits" },
  { key: "scint_occupancy", x: "TDC channel", y: "hits" },
  { key: "drift_time_ns", x: "drift time (ns)", y: "hits" },
];
const VIEW_LABEL = { latest: "latest batch", window: "sliding window", cumulative: "cumulative" };

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const fmt1 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1, minimumFractionDigits: 1 });

const state = {
  view: "latest",
  paused: false,
  missedWhilePaused: 0,
  points: [], // SeriesPoint objects, oldest first, at most MAX_POINTS
  latest: null, // newest batch message (wire format)
  serverOffsetMs: 0, // server clock minus browser clock
  conn: "connecting",
  source: null,
  summaryInFlight: false,
  summaryDirty: false,
  revision: 0,
  windowSeconds: 60,
  maxLimit: MAX_POINTS, // the server's --max-limit, learnt from /api/v1/status
};

// ---------- Plotly styling -------------------------------------------------------------

// Plot text follows the page's root font size (14 px, 17 px on control-room displays).
const fs = (px) =>
  Math.round((px * parseFloat(getComputedStyle(document.documentElement).fontSize)) / 14);

const AXIS = () => ({
  gridcolor: "#223041",
  zerolinecolor: "#2c3b4e",
  linecolor: "#2c3b4e",
  tickfont: { size: fs(10), color: "#9fb0c3" },
  title: { font: { size: fs(11), color: "#b7c4d3" }, standoff: 4 },
  automargin: true,
});
const CONFIG = {
  displaylogo: false,
  responsive: true,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
};

function baseLayout(extra) {
  return {
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: "#d8e0ea", size: fs(11), family: "Inter, Segoe UI, system-ui, sans-serif" },
    hoverlabel: { bgcolor: "#0c1117", bordercolor: "#56b4e9", font: { color: "#e8edf3" } },
    uirevision: "keep", // keep the user's zoom across updates
    datarevision: state.revision,
    ...extra,
  };
}

function axis(title, extra = {}) {
  const base = AXIS();
  return { ...base, ...extra, title: { ...base.title, text: title } };
}

const WAITING = [
  {
    text: "waiting for the first batch…",
    showarrow: false,
    xref: "paper",
    yref: "paper",
    x: 0.5,
    y: 0.5,
    font: { size: 12, color: "#8b99ab" },
  },
];

// Time-series layout; without points it shows a waiting note instead of empty year-2000 axes.
function seriesLayout(title, yTitle, empty, extra = {}) {
  return baseLayout({
    title: { text: title, font: { size: fs(13) }, x: 0.02, y: 0.97, yanchor: "top" },
    margin: { l: 52, r: extra.yaxis2 ? 52 : 10, t: 46, b: 38 },
    xaxis: axis("batch emitted at (local time)", { type: "date", showticklabels: !empty }),
    yaxis: axis(yTitle, { rangemode: "tozero", showticklabels: !empty }),
    legend: { orientation: "h", x: 0, xanchor: "left", y: 1.0, yanchor: "bottom", font: { size: fs(10) } },
    annotations: empty ? WAITING : [],
    ...extra,
  });
}

// ---------- helpers ----------------------------------------------------------------------

async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function setText(id, text) {
  const el = $(id);
  if (el && el.textContent !== text) el.textContent = text;
}

function setCardLevel(id, level) {
  const card = $(id).closest(".card");
  card.classList.remove("ok", "warn", "bad");
  if (level) card.classList.add(level);
}

// Live batches: the browser's receipt time on the server's clock, so the latency shown is the
// age of the batch's OLDEST record when it reaches this page (and of its newest), not the
// processor's emitted - newest (a 4 s batch would look like 0.1 s).
function pointFromBatch(batch, previous, receivedAtMs = null) {
  const sameQuery = previous && previous.query_id === batch.query_id;
  const lastTs = batch.input.last_ts_ms;
  const events = batch.events || {};
  return {
    query_id: batch.query_id,
    batch_id: batch.batch_id,
    emitted_at_ms: batch.emitted_at_ms,
    input_rows: batch.input.rows,
    malformed: batch.input.malformed,
    first_ts_ms: batch.input.first_ts_ms,
    last_ts_ms: lastTs,
    latency_ms: lastTs === null ? null : batch.emitted_at_ms - lastTs,
    interval_ms: sameQuery ? batch.emitted_at_ms - previous.emitted_at_ms : null,
    hits: batch.hits,
    hits_per_chamber: batch.hits_per_chamber,
    scintillator_hits: batch.scintillator_hits,
    orbits: batch.orbits,
    orbit_span: batch.orbit_span || 0,
    carried_in_hits: events.carried_in_hits || 0,
    carried_out_hits: events.carried_out_hits || 0,
    timeout_closed_orbits: events.timeout_closed_orbits || 0,
    received_at_ms: receivedAtMs,
  };
}

// Wall-clock processing rate: per second between batch emissions (changes with the cadence).
const perSecond = (count, p) => (p.interval_ms && p.interval_ms > 0 ? (count * 1000) / p.interval_ms : null);
// Detector rate in Hz: per second of detector time, the orbit span of the batch's closed
// orbits (one orbit = 3564 x 25 ns), independent of how often batches are cut.
const ORBIT_S = 3564 * 25e-9;
const perDetectorSecond = (count, p) => (p.orbit_span > 0 ? count / (p.orbit_span * ORBIT_S) : null);
// Age of the batch's oldest / newest record when it reached the browser (live) or, for batches
// loaded from history, when the processor emitted it.
const oldestAgeMs = (p) => (p.first_ts_ms === null ? null : (p.received_at_ms ?? p.emitted_at_ms) - p.first_ts_ms);
const newestAgeMs = (p) => (p.last_ts_ms === null ? null : (p.received_at_ms ?? p.emitted_at_ms) - p.last_ts_ms);

function appendPoint(point) {
  const pts = state.points;
  const dup = pts.some((p) => p.query_id === point.query_id && p.batch_id === point.batch_id);
  if (dup) return false;
  pts.push(point);
  if (pts.length > MAX_POINTS) pts.splice(0, pts.length - MAX_POINTS);
  return true;
}

// ---------- time series --------------------------------------------------------------------

function drawSeries() {
  const pts = state.points;
  const x = pts.map((p) => new Date(p.emitted_at_ms));
  const empty = pts.length === 0;
  state.revision += 1;

  const hitTraces = [
    { name: "total", y: pts.map((p) => perDetectorSecond(p.hits, p)), color: TOTAL_COLOR, width: 2.2 },
    ...[0, 1, 2, 3].map((c) => ({
      name: `ch ${c}`,
      y: pts.map((p) => perDetectorSecond(p.hits_per_chamber[c], p)),
      color: CHAMBER_COLOR[c],
      width: 1.4,
    })),
  ].map((t) => ({
    type: "scatter",
    mode: "lines",
    x,
    y: t.y,
    name: t.name,
    line: { color: t.color, width: t.width },
    hovertemplate: "%{y:.1f} Hz<extra>%{fullData.name}</extra>",
  }));
  Plotly.react(
    "ts-hits",
    hitTraces,
    seriesLayout("Hit rate per chamber (detector time)", "Hz", empty),
    CONFIG,
  );

  Plotly.react(
    "ts-trigger",
    [
      {
        type: "scatter",
        mode: "lines+markers",
        x,
        y: pts.map((p) => perDetectorSecond(p.scintillator_hits, p)),
        name: "scintillator (trigger)",
        line: { color: "#e879f9", width: 2 },
        marker: { size: 3 },
        hovertemplate: "%{y:.2f} Hz<extra>trigger rate</extra>",
      },
    ],
    seriesLayout("Trigger rate (detector time)", "Hz", empty),
    CONFIG,
  );

  Plotly.react(
    "ts-latency",
    [
      {
        type: "scatter",
        mode: "lines+markers",
        x,
        y: pts.map((p) => (oldestAgeMs(p) === null ? null : oldestAgeMs(p) / 1000)),
        name: "oldest record's age",
        line: { color: "#56b4e9", width: 2 },
        marker: { size: 3 },
        hovertemplate: "%{y:.2f} s<extra>oldest record</extra>",
      },
      {
        type: "scatter",
        mode: "lines",
        x,
        y: pts.map((p) => (newestAgeMs(p) === null ? null : newestAgeMs(p) / 1000)),
        name: "newest record's age",
        line: { color: "#8fd3ff", width: 1.2 },
        hovertemplate: "%{y:.2f} s<extra>newest record</extra>",
      },
      {
        type: "scatter",
        mode: "lines",
        x,
        y: pts.map((p) => (p.interval_ms === null ? null : p.interval_ms / 1000)),
        name: "time since previous batch",
        line: { color: "#f0b429", width: 1.5, dash: "dot" },
        hovertemplate: "%{y:.2f} s<extra>batch interval</extra>",
      },
    ],
    seriesLayout("Pipeline latency", "seconds", empty),
    CONFIG,
  );

  Plotly.react(
    "ts-input",
    [
      {
        type: "scatter",
        mode: "lines",
        x,
        y: pts.map((p) => perSecond(p.input_rows, p)),
        name: "input records / s",
        line: { color: "#3ccf8e", width: 2 },
        hovertemplate: "%{y:.0f} records/s<extra>input rate</extra>",
      },
      {
        type: "bar",
        x,
        y: pts.map((p) => p.malformed),
        name: "malformed / batch",
        yaxis: "y2",
        marker: { color: "#ef5350" },
        hovertemplate: "%{y} malformed<extra>batch</extra>",
      },
    ],
    seriesLayout("Input rate and malformed records", "records / s", empty, {
      yaxis2: axis("malformed / batch", {
        overlaying: "y",
        side: "right",
        rangemode: "tozero",
        showgrid: false,
        tickfont: { size: fs(10), color: "#ef8a88" },
        tickformat: ",d",
        range: [0, Math.max(4, ...pts.map((p) => p.malformed)) * 1.1],
        showticklabels: !empty,
      }),
      bargap: 0.3,
    }),
    CONFIG,
  );
}

// ---------- histograms ---------------------------------------------------------------------

function buildHistogramGrid() {
  const grid = document.querySelector(".histos");
  for (const c of CHAMBERS_TOP_DOWN) {
    const head = document.createElement("div");
    head.className = `rowhead ch${c}`;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = `Chamber ${c}`;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `z = ${CHAMBER_Z_MM[c]} mm${c === 1 ? " · rotated 90°" : ""}`;
    const hits = document.createElement("span");
    hits.className = "hits";
    hits.id = `ch${c}-hits`;
    hits.textContent = "–";
    head.append(name, meta, hits);
    grid.append(head);
    for (const q of QUANTITIES) {
      const div = document.createElement("div");
      div.className = "plot plot-h";
      div.id = `h-${q.key}-${c}`;
      div.dataset.chamber = String(c);
      div.dataset.quantity = q.key;
      grid.append(div);
    }
  }
}

// Unit-width bins hold integers (channels, channel counts): put each bar on its integer.
function binPositions(edges) {
  const unit = edges.every((e, i) => i === 0 || edges[i] - edges[i - 1] === 1);
  const xs = new Array(edges.length - 1);
  for (let i = 0; i < xs.length; i += 1) xs[i] = unit ? edges[i] : (edges[i] + edges[i + 1]) / 2;
  return { xs, unit };
}

function lastNonZero(counts) {
  for (let i = counts.length - 1; i >= 0; i -= 1) if (counts[i] > 0) return i;
  return -1;
}

function drawHistogram(q, chamber, hist) {
  const id = `h-${q.key}-${chamber}`;
  const edges = hist ? hist.bin_edges : [0, 1];
  const counts = hist ? hist.bin_counts : [0];
  const width = edges[1] - edges[0];
  const total = counts.reduce((a, b) => a + b, 0);
  const { xs, unit } = binPositions(edges);
  const half = unit ? 0.5 : 0;
  const xaxisExtra = {};
  const shapes = [];
  if (q.key === "orbit_multiplicity") {
    const last = Math.max(lastNonZero(counts), 7);
    xaxisExtra.range = [xs[0] - half, xs[Math.min(last, xs.length - 1)] + half];
    xaxisExtra.dtick = 1;
  } else {
    xaxisExtra.range = [edges[0] - half, edges[edges.length - 1] - half];
  }
  if (q.key === "drift_time_ns") xaxisExtra.dtick = 200;
  if (q.key === "drift_time_ns") {
    shapes.push({
      type: "rect",
      xref: "x",
      yref: "paper",
      x0: 0,
      x1: MAX_DRIFT_NS,
      y0: 0,
      y1: 1,
      fillcolor: "rgba(86,180,233,0.08)",
      line: { width: 0 },
      layer: "below",
    });
  }
  const flow = hist && (hist.underflow || hist.overflow) ? ` · under ${fmt.format(hist.underflow)} · over ${fmt.format(hist.overflow)}` : "";
  const yTitle = q.key === "drift_time_ns" && hist ? `hits / ${width} ns` : q.y;
  Plotly.react(
    id,
    [
      {
        type: "bar",
        x: xs,
        y: counts,
        width,
        marker: { color: CHAMBER_COLOR[chamber], line: { width: 0 } },
        hovertemplate:
          q.key === "orbit_multiplicity"
            ? "%{x:.0f} channels: %{y} orbits<extra></extra>"
            : q.key === "drift_time_ns"
              ? "%{x:.1f} ns: %{y} hits<extra></extra>"
              : "channel %{x:.0f}: %{y} hits<extra></extra>",
      },
    ],
    baseLayout({
      margin: { l: 46, r: 8, t: 20, b: 36 },
      bargap: 0,
      showlegend: false,
      shapes,
      xaxis: axis(q.x, { ...xaxisExtra, showticklabels: Boolean(hist) }),
      yaxis: axis(yTitle, { rangemode: "tozero", showticklabels: Boolean(hist) }),
      annotations: [
        ...(hist ? [] : [{ ...WAITING[0], text: "no data" }]),
        {
          xref: "paper",
          yref: "paper",
          x: 1,
          y: 1.02,
          xanchor: "right",
          yanchor: "bottom",
          showarrow: false,
          text: `Σ ${fmt.format(total)}${flow}`,
          font: { size: fs(10), color: "#8b99ab" },
        },
      ],
    }),
    { ...CONFIG, displayModeBar: "hover" },
  );
}

function drawHistograms(source) {
  state.revision += 1;
  for (const c of CHAMBERS_TOP_DOWN) {
    for (const q of QUANTITIES) drawHistogram(q, c, source && source[q.key] ? source[q.key][c] : null);
    setText(`ch${c}-hits`, source ? `${fmt.format(source.hits_per_chamber[c])} hits` : "–");
  }
}

function applySummary(summary) {
  setText("view-batches", fmt.format(summary.batches));
  const span =
    summary.view === "window"
      ? `last ${summary.window_seconds} s`
      : summary.view === "cumulative"
        ? "since query start"
        : "latest batch";
  setText("view-note", `batches · ${span}`);
  setText("malformed", fmt.format(summary.malformed));
  setText("malformed-note", `in view of ${fmt.format(summary.input_rows)} records`);
  setCardLevel("malformed", summary.malformed > 0 ? "warn" : "ok");
  setText("histo-view-label", VIEW_LABEL[summary.view]);
  drawHistograms(summary.batches > 0 ? summary : null);
}

async function refreshSummary() {
  if (state.summaryInFlight) {
    state.summaryDirty = true;
    return;
  }
  state.summaryInFlight = true;
  try {
    do {
      state.summaryDirty = false;
      const summary = await getJSON(`api/v1/summary?view=${state.view}`);
      if (summary.view === state.view) applySummary(summary);
    } while (state.summaryDirty);
  } catch (err) {
    console.warn("summary refresh failed", err);
  } finally {
    state.summaryInFlight = false;
  }
}

// ---------- cards and status ------------------------------------------------------------------

function updateCards() {
  const p = state.points[state.points.length - 1];
  if (!p) return;
  setText("batch-id", `#${p.batch_id}`);
  setText("query-id", p.query_id);
  const rate = perDetectorSecond(p.hits, p);
  setText("hit-rate", rate === null ? fmt.format(p.hits) + " hits" : fmt1.format(rate));
  const trigger = perDetectorSecond(p.scintillator_hits, p);
  setText("trigger-rate", trigger === null ? fmt.format(p.scintillator_hits) + " hits" : fmt1.format(trigger));
  const input = perSecond(p.input_rows, p);
  setText("input-rate", input === null ? fmt.format(p.input_rows) + " rec" : fmt.format(input));
  const oldest = oldestAgeMs(p);
  const newest = newestAgeMs(p);
  if (oldest === null) {
    setText("latency", "n/a");
    setText("latency-note", "no record timestamps");
    setCardLevel("latency", null);
  } else {
    setText("latency", `${fmt1.format(oldest / 1000)} s`);
    setText("latency-note", `oldest record's age · newest ${fmt1.format(newest / 1000)} s`);
    setCardLevel("latency", oldest < 10000 ? "ok" : oldest < 30000 ? "warn" : "bad");
  }
  setText("events", `${fmt.format(p.carried_in_hits)} / ${fmt.format(p.carried_out_hits)}`);
  setText("events-note", `hits carried in / out · ${fmt.format(p.timeout_closed_orbits)} orbits closed by timeout`);
  setCardLevel("events", p.timeout_closed_orbits > 0 ? "warn" : "ok");
}

function tickAge() {
  const p = state.points[state.points.length - 1];
  if (!p) return;
  const ageS = Math.max(0, (Date.now() + state.serverOffsetMs - p.emitted_at_ms) / 1000);
  setText("batch-age", `emitted ${ageS < 60 ? fmt1.format(ageS) + " s" : fmt.format(ageS / 60) + " min"} ago`);
  const expected = p.interval_ms ? p.interval_ms / 1000 : 5;
  setCardLevel("batch-id", ageS < 3 * expected + 5 ? "ok" : ageS < 10 * expected + 30 ? "warn" : "bad");
}

function setConn(conn, text) {
  state.conn = conn;
  const pill = $("conn");
  pill.className = `pill pill-${state.paused ? "paused" : conn}`;
  pill.textContent = state.paused ? `paused${state.missedWhilePaused ? ` · ${state.missedWhilePaused} new` : ""}` : text;
}

// A new processor query (fresh checkpoint) restarts the cumulative view: say so, with the
// run it replaced, so that the reset is never mistaken for lost data.
function showRunNote(status) {
  const note = $("run-note");
  if (!status.previous_query_id || status.run_started_at_ms === null) {
    note.hidden = true;
    return;
  }
  const at = new Date(status.run_started_at_ms).toLocaleTimeString();
  note.textContent = `new run started ${at} (previous query ${status.previous_query_id})`;
  note.hidden = false;
}

async function refreshStatus() {
  try {
    const t0 = Date.now();
    const status = await getJSON("api/v1/status");
    const t1 = Date.now();
    state.serverOffsetMs = status.server_time_ms - (t0 + t1) / 2;
    state.windowSeconds = status.window_seconds;
    state.maxLimit = status.max_limit;
    setText("window-seconds", String(status.window_seconds));
    setText("invalid", fmt.format(status.consumer.invalid_messages));
    setCardLevel("invalid", status.consumer.invalid_messages > 0 ? "warn" : "ok");
    showRunNote(status);
    const c = status.consumer;
    const consumer = !c.connected || !c.broker_reachable
      ? c.connected ? c.broker : `broker unreachable${c.last_error ? `: ${c.last_error}` : ""}`
      : c.caught_up
        ? `topic ${c.topic} · ${fmt.format(status.duplicates)} duplicates`
        : c.last_error || "replaying topic…";
    setText("consumer-note", consumer);
    $("consumer-note").title = consumer; // full text on hover (the card truncates it)
    setText(
      "server-note",
      `${fmt.format(status.batches_retained)}/${fmt.format(status.history_size)} batches retained · ${status.sse_clients} live viewers`,
    );
  } catch (err) {
    setText("consumer-note", "status unavailable");
  }
}

// ---------- live stream ----------------------------------------------------------------------

async function resync() {
  await refreshStatus();
  const series = await getJSON(`api/v1/timeseries?limit=${Math.min(MAX_POINTS, state.maxLimit)}`);
  // Keep points that arrived by SSE while the request was in flight.
  const newest = series.length ? series[series.length - 1].emitted_at_ms : -Infinity;
  const later = state.points.filter((p) => p.emitted_at_ms > newest);
  state.points = [];
  for (const p of series) appendPoint(p);
  for (const p of later) appendPoint(p);
  drawSeries();
  updateCards();
  tickAge();
  await refreshSummary();
}

function onBatch(event) {
  if (state.paused) {
    state.missedWhilePaused += 1;
    setConn(state.conn, "");
    return;
  }
  const batch = JSON.parse(event.data);
  const previous = state.points[state.points.length - 1];
  if (previous && previous.query_id !== batch.query_id) refreshStatus();
  const receivedAtMs = Date.now() + state.serverOffsetMs;
  if (!appendPoint(pointFromBatch(batch, previous, receivedAtMs))) return;
  state.latest = batch;
  drawSeries();
  updateCards();
  tickAge();
  if (state.view === "latest") {
    applySummary({
      view: "latest",
      batches: 1,
      input_rows: batch.input.rows,
      malformed: batch.input.malformed,
      ...batch,
    });
  } else {
    refreshSummary();
  }
}

function connect() {
  if (state.source) state.source.close();
  setConn("connecting", "connecting");
  const source = new EventSource("api/v1/stream");
  state.source = source;
  source.onopen = () => {
    setConn("live", "live");
    resync().catch((err) => console.warn("resync failed", err));
  };
  source.onmessage = onBatch;
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused (e.g. 503: too many viewers) or server gone: retry ourselves.
      setConn("down", "disconnected · retrying");
      setTimeout(connect, 5000);
    } else {
      setConn("connecting", "reconnecting");
    }
  };
}

// ---------- controls ------------------------------------------------------------------------

function setView(view) {
  state.view = view;
  for (const b of document.querySelectorAll(".segmented button")) {
    b.setAttribute("aria-pressed", String(b.dataset.view === view));
  }
  setText("histo-view-label", VIEW_LABEL[view]);
  refreshSummary();
}

function togglePause() {
  state.paused = !state.paused;
  const button = $("pause");
  button.setAttribute("aria-pressed", String(state.paused));
  button.textContent = state.paused ? "Resume" : "Pause";
  if (!state.paused) {
    state.missedWhilePaused = 0;
    setConn(state.conn, state.conn === "live" ? "live" : state.conn);
    resync().catch((err) => console.warn("resync failed", err));
  } else {
    setConn(state.conn, "");
  }
}

function main() {
  buildHistogramGrid();
  drawSeries();
  drawHistograms(null);
  for (const b of document.querySelectorAll(".segmented button")) {
    b.addEventListener("click", () => setView(b.dataset.view));
  }
  $("pause").addEventListener("click", togglePause);
  setInterval(tickAge, 1000);
  setInterval(refreshStatus, 5000);
  connect();
  window.dtmon = { state }; // for the browser test and for debugging from the console
}

main();
