// The operator's status page: polls /api/v1/status every second (only what
// is new since the last answer), keeps the last 15 minutes, and draws each
// lecture's ingest, link, transcode and egress charts with uPlot, with the
// events of the time line marked on them. No outside resources.
'use strict';

const HISTORY = 900;                  // samples kept, as the server
const POLL_MS = 1000;
const token = new URLSearchParams(location.search).get('admin_token');
const headers = token ? { Authorization: 'Bearer ' + token } : {};

const state = {
  t: [],                  // sample times, seconds
  series: new Map(),      // key -> {name, type, labels, v[]}
  events: [],
  lastMs: 0,
  node: '', roles: '',
  updates: 0,
  charts: new Map(),      // chart id -> {plot, keys, el}
};

// ---- the charts ------------------------------------------------------------

const by = (...names) => (l) => names.map((n) => l[n]).filter((x) => x !== undefined).join(' ');
const linkName = (l) => `${l.role} ${l.side} ${l.peer}`;

// Each chart: which section, a title, and how its lines come from the
// series: metric (one line per series, label()), rate (per-second rate of a
// counter), scale, or lines() for a derived figure.
const CHARTS = [
  { section: 'Ingest', title: 'Bitrate in (kb/s)', metric: 'lr_ingest_source_bitrate_bps', scale: 1e-3, label: (l) => 'source ' + l.source },
  { section: 'Ingest', title: 'Frames/s in', metric: 'lr_ingest_source_fps', label: (l) => 'source ' + l.source },
  { section: 'Ingest', title: 'Source on the link', metric: 'lr_ingest_source_active', label: (l) => 'source ' + l.source },
  { section: 'Ingest', title: 'Timestamps repaired', metric: 'lr_ingest_lecture_timestamps_repaired_total', label: () => 'repaired' },
  { section: 'Link', title: 'RTT (ms)', metric: 'lr_link_rtt_ms', label: linkName },
  { section: 'Link', title: 'Loss (%)', lines: lossLines },
  { section: 'Link', title: 'Retransmissions/s', metric: 'lr_link_packets_retransmitted_total', rate: true, label: linkName },
  { section: 'Link', title: 'Latency in force (ms)', metric: 'lr_link_latency_ms', label: linkName },
  { section: 'Link', title: 'Sending (Mb/s)', metric: 'lr_link_send_rate_mbps', label: linkName, only: (l) => l.side !== 'recv' },
  { section: 'Link', title: 'Reconnects', metric: 'lr_link_reconnects_total', label: linkName },
  { section: 'Transcode', title: 'Frames/s per rung', metric: 'lr_transcode_frames_total', rate: true, label: by('rung') },
  { section: 'Transcode', title: 'Speed (x real time)', metric: 'lr_transcode_speed_ratio', label: () => 'slowest rung' },
  { section: 'Transcode', title: 'Queue (frames)', metric: 'lr_transcode_queue_frames', label: () => 'busiest rung' },
  { section: 'Transcode', title: 'Rungs shed', metric: 'lr_transcode_rungs_shed', label: () => 'shed' },
  { section: 'Egress', title: 'Newest segment age (s)', metric: 'lr_egress_segment_age_seconds', label: by('rendition') },
  { section: 'Egress', title: 'Newest part age (s)', metric: 'lr_egress_part_age_seconds', label: by('rendition') },
  { section: 'Egress', title: 'Viewers', metric: 'lr_http_viewers', label: by('rendition') },
  { section: 'Egress', title: 'Links feeding it', metric: 'lr_egress_feeds', label: () => 'feeds' },
  { section: 'Egress', title: 'Frames that came damaged', metric: 'lr_egress_damaged_frames_total', label: by('fate') },
  { section: 'Egress', title: 'Recording (MB)', metric: 'lr_recording_bytes', scale: 1e-6, label: () => 'recorded' },
];

const NODE_CHARTS = [
  { title: 'Responses/s', metric: 'lr_http_responses_total', rate: true, label: by('class'), sum: true },
  { title: 'Sent (MB/s)', metric: 'lr_http_response_body_bytes_total', rate: true, scale: 1e-6, label: () => 'bodies' },
  { title: 'Parked requests', metric: 'lr_http_parked_requests', label: () => 'parked' },
  { title: 'Connections', metric: 'lr_http_connections', label: () => 'open' },
  { title: 'Recordings disk used (%)', metric: 'lr_recordings_disk_used_ratio', scale: 100, label: () => 'used' },
  { title: 'Certificate: days left', lines: certLines },
];

function seriesOf(name, lecture) {
  const out = [];
  for (const s of state.series.values())
    if (s.name === name && (lecture === undefined || s.labels.lecture === lecture))
      out.push(s);
  return out;
}

function rateOf(v) {
  const out = new Array(v.length).fill(null);
  for (let i = 1; i < v.length; i++) {
    const dt = state.t[i] - state.t[i - 1];
    if (v[i] != null && v[i - 1] != null && dt > 0 && v[i] >= v[i - 1])
      out[i] = (v[i] - v[i - 1]) / dt;
  }
  return out;
}

function lossLines(lecture) {
  const lines = [];
  for (const lost of seriesOf('lr_link_packets_lost_total', lecture)) {
    const key = JSON.stringify(lost.labels);
    const pkts = seriesOf('lr_link_packets_total', lecture).find((s) => JSON.stringify(s.labels) === key);
    if (!pkts)
      continue;
    const a = rateOf(lost.v), b = rateOf(pkts.v);
    lines.push({ label: linkName(lost.labels),
                 v: a.map((x, i) => (x == null || b[i] == null || x + b[i] === 0 ? (x === 0 ? 0 : null)
                                                                                  : 100 * x / (x + b[i]))) });
  }
  return lines;
}

function certLines() {
  return seriesOf('lr_tls_certificate_expiry_timestamp_seconds').map((s) => ({
    label: 'certificate', v: s.v.map((x, i) => (x == null ? null : (x - state.t[i]) / 86400)) }));
}

function linesOf(def, lecture) {
  if (def.lines)
    return def.lines(lecture);
  let lines = [];
  for (const s of seriesOf(def.metric, lecture)) {
    if (def.only && !def.only(s.labels))
      continue;
    let v = def.rate ? rateOf(s.v) : s.v.slice();
    if (def.scale)
      v = v.map((x) => (x == null ? null : x * def.scale));
    // an upstream role's series (status_upstreams) say where they come from
    lines.push({ label: def.label(s.labels) + (s.labels.origin ? ` @${s.labels.origin}` : ''), v });
  }
  if (def.sum) {  // one line per label value, summed
    const sums = new Map();
    for (const l of lines) {
      const acc = sums.get(l.label);
      sums.set(l.label, acc ? acc.map((x, i) => (x == null && l.v[i] == null ? null : (x || 0) + (l.v[i] || 0))) : l.v);
    }
    lines = [...sums].map(([label, v]) => ({ label, v }));
  }
  return lines.filter((l) => l.v.some((x) => x != null));
}

// ---- drawing ---------------------------------------------------------------

const COLORS = ['#1e88e5', '#e53935', '#43a047', '#fb8c00', '#8e24aa', '#00897b', '#6d4c41', '#3949ab'];

// Marks the events of the chart's lecture (all events on node charts).
function eventMarks(lecture) {
  return {
    hooks: {
      draw: [(u) => {
        const ctx = u.ctx;
        const [x0, x1] = [u.scales.x.min, u.scales.x.max];
        ctx.save();
        ctx.strokeStyle = '#f4511e';
        ctx.setLineDash([4, 4]);
        ctx.lineWidth = 1;
        for (const e of state.events) {
          const t = e.t_ms / 1000;
          if ((lecture && e.lecture !== lecture) || t < x0 || t > x1)
            continue;
          const x = Math.round(u.valToPos(t, 'x', true));
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
        }
        ctx.restore();
      }],
    },
  };
}

function chartWidth(el) {
  return Math.max(240, el.clientWidth - 10);
}

function drawChart(id, parent, def, lecture) {
  const lines = linesOf(def, lecture);
  let c = state.charts.get(id);
  const keys = lines.map((l) => l.label).join('\u0000');
  if (!lines.length) {
    if (c) {
      c.plot.destroy();
      c.el.remove();
      state.charts.delete(id);
    }
    return;
  }
  const data = [state.t, ...lines.map((l) => l.v)];
  if (c && c.keys === keys) {
    c.plot.setData(data);
    return;
  }
  if (c) {
    c.plot.destroy();
    c.el.remove();
  }
  const el = document.createElement('div');
  el.className = 'chart';
  el.dataset.title = def.title;
  const title = document.createElement('div');
  title.className = 'title';
  title.textContent = def.title;
  el.appendChild(title);
  parent.appendChild(el);
  const opts = {
    width: chartWidth(parent.firstElementChild || el), height: 160,
    scales: { x: { time: true } },
    legend: { live: false },
    series: [{}, ...lines.map((l, i) => ({ label: l.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false }))],
    axes: [{}, { size: 50 }],
    plugins: [eventMarks(lecture)],
  };
  const plot = new uPlot(opts, data, el);
  state.charts.set(id, { plot, keys, el, def, lecture });
}

function sectionOf(box, name) {
  let s = box.querySelector(`[data-section="${name}"]`);
  if (!s) {
    s = document.createElement('div');
    s.dataset.section = name;
    s.innerHTML = `<h3>${name}</h3><div class="charts"></div>`;
    box.appendChild(s);
  }
  return s.querySelector('.charts');
}

function latest(s) {
  for (let i = s.v.length - 1; i >= 0; i--)
    if (s.v[i] != null)
      return s.v[i];
  return null;
}

function fact(label, value, cls) {
  return `<span><b>${label}</b> <span class="${cls || ''}">${escapeHtml(String(value))}</span></span>`;
}

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// The figures an operator reads first: is the lecture live, from where, and
// are students getting it.
function facts(lecture) {
  const out = [];
  const live = seriesOf('lr_ingest_lecture_live', lecture).map(latest)[0];
  const ended = seriesOf('lr_ingest_lecture_ended', lecture).map(latest)[0];
  if (live != null)
    out.push(fact('source', live ? 'live' : ended ? 'ended' : 'none live', live ? 'ok' : ended ? '' : 'bad'));
  const active = seriesOf('lr_ingest_source_active', lecture).find((s) => latest(s) === 1);
  if (active) {
    const info = seriesOf('lr_ingest_source_info', lecture).find((s) => s.labels.source === active.labels.source && latest(s) === 1);
    out.push(fact('reading', `source ${active.labels.source}: ${info ? info.labels.session : active.labels.url}`));
    if (info && info.labels.encoder)
      out.push(fact('encoder', info.labels.encoder));
    const br = seriesOf('lr_ingest_source_bitrate_bps', lecture).find((s) => s.labels.source === active.labels.source);
    if (br && latest(br) != null)
      out.push(fact('in', (latest(br) / 1000).toFixed(0) + ' kb/s'));
  }
  const changes = seriesOf('lr_ingest_lecture_source_changes_total', lecture).map(latest)[0];
  if (changes != null)
    out.push(fact('failovers', changes));
  const rtt = seriesOf('lr_link_rtt_ms', lecture).map(latest).filter((x) => x != null);
  if (rtt.length)
    out.push(fact('link RTT', Math.max(...rtt).toFixed(0) + ' ms'));
  const rungs = seriesOf('lr_transcode_rungs', lecture).map(latest)[0];
  const shed = seriesOf('lr_transcode_rungs_shed', lecture).map(latest)[0];
  if (rungs != null)
    out.push(fact('rungs', shed ? `${rungs - shed} of ${rungs} (${shed} shed)` : rungs, shed ? 'bad' : ''));
  const viewers = seriesOf('lr_http_viewers', lecture).map(latest).reduce((a, b) => a + (b || 0), 0);
  if (seriesOf('lr_egress_part_age_seconds', lecture).length)
    out.push(fact('viewers', viewers));
  const ages = seriesOf('lr_egress_segment_age_seconds', lecture).map(latest).filter((x) => x != null);
  const target = seriesOf('lr_egress_target_duration_seconds', lecture).map(latest)[0];
  if (ages.length)
    out.push(fact('newest segment', Math.max(...ages).toFixed(1) + ' s ago',
                  target && Math.max(...ages) > 3 * target ? 'bad' : ''));
  return out.join('');
}

function lectures() {
  const names = new Set();
  for (const s of state.series.values())
    if (s.labels.lecture)
      names.add(s.labels.lecture);
  return [...names].sort();
}

function render() {
  document.getElementById('node').textContent = `${state.node} (${state.roles})`;
  const now = state.t.length ? new Date(state.t[state.t.length - 1] * 1000) : null;
  document.getElementById('summary').textContent =
    `${lectures().length} lecture(s); updated ${now ? now.toLocaleTimeString() : '-'}; ` +
    `${state.series.size} series over ${state.t.length} s`;
  const box = document.getElementById('lectures');
  const seen = new Set();
  for (const lec of lectures()) {
    let el = box.querySelector(`[data-lecture="${CSS.escape(lec)}"]`);
    if (!el) {
      el = document.createElement('section');
      el.className = 'group lecture';
      el.dataset.lecture = lec;
      el.innerHTML = `<h2></h2><div class="facts"></div>`;
      el.querySelector('h2').textContent = 'Lecture ' + lec;
      box.appendChild(el);
    }
    seen.add(lec);
    el.querySelector('.facts').innerHTML = facts(lec);
    CHARTS.forEach((def, i) => drawChart(`${lec}\u0000${i}`, sectionOf(el, def.section), def, lec));
  }
  for (const el of [...box.children])
    if (!seen.has(el.dataset.lecture))
      el.remove();
  const node = document.getElementById('node-charts');
  NODE_CHARTS.forEach((def, i) => drawChart(`\u0000node${i}`, node.querySelector('.charts'), def, undefined));
  node.hidden = !node.querySelector('.chart');
  const tl = document.getElementById('timeline');
  tl.innerHTML = state.events.slice().reverse().map((e) =>
    `<li data-kind="${escapeHtml(e.kind)}"><time>${new Date(e.t_ms).toLocaleTimeString()}</time>` +
    `<span class="kind">${escapeHtml(e.kind)}</span> ${e.lecture ? escapeHtml(e.lecture) + ': ' : ''}${escapeHtml(e.text)}</li>`).join('');
}

// ---- data ------------------------------------------------------------------

function merge(d) {
  state.node = d.node;
  state.roles = d.roles;
  const n0 = state.t.length, add = d.t.length;
  for (const ms of d.t)
    state.t.push(ms / 1000);
  const fresh = new Set();
  for (const s of d.series) {
    const key = s.name + JSON.stringify(s.labels);
    let have = state.series.get(key);
    if (!have) {
      have = { name: s.name, type: s.type, labels: s.labels, v: new Array(n0).fill(null) };
      state.series.set(key, have);
    }
    have.v.push(...s.v);
    fresh.add(key);
  }
  for (const [key, s] of state.series)
    if (!fresh.has(key))
      s.v.push(...new Array(add).fill(null));
  const over = state.t.length - HISTORY;
  if (over > 0) {
    state.t.splice(0, over);
    for (const [key, s] of state.series) {
      s.v.splice(0, over);
      if (!s.v.some((x) => x != null))
        state.series.delete(key);
    }
  }
  // the next request asks for what came after the newest sample: an event
  // of that moment may come twice, and is kept once
  const known = new Set(state.events.map((e) => e.t_ms + e.kind + e.text));
  state.events.push(...d.events.filter((e) => !known.has(e.t_ms + e.kind + e.text)));
  const first = state.t.length ? state.t[0] * 1000 : 0;
  state.events = state.events.filter((e) => e.t_ms >= first);
  if (d.t.length)
    state.lastMs = d.t[d.t.length - 1];
}

async function poll() {
  try {
    const r = await fetch(`/api/v1/status?since=${state.lastMs}`, { headers, cache: 'no-store' });
    if (!r.ok)
      throw new Error(`HTTP ${r.status}`);
    merge(await r.json());
    state.updates++;
    render();
  } catch (e) {
    document.getElementById('summary').textContent = `cannot read the status: ${e.message}; retrying`;
  }
  setTimeout(poll, POLL_MS);
}

window.addEventListener('resize', () => {
  for (const c of state.charts.values())
    c.plot.setSize({ width: chartWidth(c.el.parentElement.firstElementChild), height: 160 });
});

window.lrStatus = state;   // for the browser test
poll();
