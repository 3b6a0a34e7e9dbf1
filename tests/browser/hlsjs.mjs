// Browser test driver: hls.js (served by the egress) in headless Chromium,
// playing one HLS URL with the settings and actions a test asks for, and
// reporting what a student would have seen.
//
// usage: node tests/browser/hlsjs.mjs '<json>'
//   {"origin": "http://127.0.0.1:8080",      page loaded first (same origin)
//    "src": "http://.../master.m3u8",
//    "seconds": 20,                           how long to watch (wall clock)
//    "afterPlaying": false,                   ...counted from when playback began
//    "startDeadline": 60,                     ...which it gives up on after this long
//    "lowLatency": true,
//    "rate": 1,                               playbackRate (VOD tests go faster)
//    "catchUp": 1.2,                          hls.js maxLiveSyncPlaybackRate (1: off);
//                                             default: the player page's own settings
//                                             (/assets/lr-player.js), as every other option
//    "actions": [{"at": 8, "do": "level", "level": 0},      the quality menu's choice
//                                                           ("top": the highest rung)
//                {"at": 5, "do": "seekBack", "seconds": 60}, currentTime -= 60
//                {"at": 0, "do": "seekStart"}]}             currentTime = 0
// Prints one JSON line: played (seconds of media advanced), stalls
// (BUFFER_STALLED_ERROR events), errors (hls.js errors), fatal, levels
// (LEVEL_SWITCHED), latencies (Date.now() - hls.playingDate, ms), ended,
// duration, currentTime, frames, statuses (HTTP status counts of hls.js's
// requests), seekable [start, end], slow (media requests over 1 s), protocols
// (the HTTP version each media request went over: h2, http/1.1; '?' for
// a request aborted before its answer), renditions ([seconds, the directory
// of the media it fetched] each time that changed), holes ([seconds into the
// watch, the playback position, the jump in seconds or minus the hold's
// length, 'jump' or 'hold'] for each hold of a second or more and each jump
// (forward 5 s or more, or back) that played does not count), redirects ({directory: count} of the playlist requests
// answered with a redirect, by the directory asked for), hosts ([epoch ms,
// host:port of the main media it fetched] each time that changed: a Content
// Steering pathway switch), ccs (the discontinuity sequence numbers of the
// main fragments it loaded), holds ([epoch ms, ms] each time the position
// stood still 0.5 s or more after playback began), t0 (epoch ms at the
// watch's start), startState (only if nothing ever played: the player's
// position, buffered ranges per SourceBuffer, playlist window and newest
// media appended, as last sampled). Once playback begins it prints "playing <epoch ms>" on a
// line of its own, for a test that acts on the player from outside.
// An https origin may have a self-signed certificate (made by the test).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const opts = JSON.parse(process.argv[2] ?? '{}');
const executablePath = process.env.LR_CHROMIUM || '/usr/bin/chromium';
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lr-chromium-'));
const out = { ok: false, played: 0, stalls: 0, errors: [], fatal: null, levels: [],
              latencies: [], holes: [], ended: false, statuses: {}, redirects: {}, pageErrors: [],
              error: null };
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath, headless: true, ignoreHTTPSErrors: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--autoplay-policy=no-user-gesture-required'],
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  // LR_HLSJS_DEBUG=1: hls.js's own debug log on stderr (by hand, not in tests)
  opts.debug = !!process.env.LR_HLSJS_DEBUG;
  if (opts.debug) page.on('console', (m) => process.stderr.write(`${Date.now() % 100000} ${m.text()}\n`));
  page.on('response', (r) => {
    if (/\.(m3u8|m4s|mp4|ts)(\?|$)/.test(r.url())) out.statuses[r.status()] = (out.statuses[r.status()] ?? 0) + 1;
    if (r.status() >= 300 && r.status() < 400 && /\.m3u8(\?|$)/.test(r.url())) {
      const dir = r.url().split('?')[0].split('/').slice(-2)[0];
      out.redirects[dir] = (out.redirects[dir] ?? 0) + 1;
    }
  });
  // Requests that took over a second, for the reasons of a stall: sent is
  // when the request went out (late: it waited for one of the browser's six
  // connections to the host), ttfb when the answer began (ms from its start).
  out.slow = [];
  const timed = (r, failure) => {
    if (failure === 'net::ERR_ABORTED') return;  // hls.js let go of it (a switch)
    const t = r.timing();
    // a request refused before it began has no start time (-1)
    const total = t.responseEnd >= 0 ? t.responseEnd : t.startTime > 0 ? Date.now() - t.startTime : 0;
    if (total > 1000 && out.slow.length < 40 && /\.(m3u8|m4s|mp4|ts)(\?|$)/.test(r.url()))
      out.slow.push({ url: r.url().replace(/^.*\/live\//, ''), ms: Math.round(total),
                      sent: Math.round(t.requestStart), ttfb: Math.round(t.responseStart),
                      failure: failure ?? null });
  };
  page.on('requestfinished', (r) => timed(r));
  page.on('requestfailed', (r) => timed(r, r.failure()?.errorText ?? 'failed'));
  await page.goto(`${opts.origin}/healthz`, { timeout: 15000 });
  await page.addScriptTag({ url: `${opts.origin}/assets/hls.min.js` });
  await page.addScriptTag({ url: `${opts.origin}/assets/lr-player.js` });
  await page.evaluate((o) => {
    const v = document.createElement('video');
    v.muted = true;
    v.autoplay = true;
    v.playbackRate = o.rate ?? 1;
    document.body.appendChild(v);
    const lr = window.lr = { stalls: 0, errors: [], fatal: null, levels: [], video: v, protocols: {},
                            renditions: [], hosts: [], ccs: [] };
    performance.setResourceTimingBufferSize(100000);
    new PerformanceObserver((list) => {
      for (const e of list.getEntries())
        if (/\.(m3u8|m4s|mp4|ts)(\?|$)/.test(e.name))
          lr.protocols[e.nextHopProtocol || '?'] = (lr.protocols[e.nextHopProtocol || '?'] ?? 0) + 1;
    }).observe({ type: 'resource', buffered: true });
    // the player page's settings (window.lrHlsConfig), with the test's overrides
    const config = Object.assign({}, window.lrHlsConfig, { lowLatencyMode: o.lowLatency ?? true });
    if (o.catchUp !== undefined) config.maxLiveSyncPlaybackRate = o.catchUp;
    if (o.debug) config.debug = true;
    lr.config = { lowLatencyMode: config.lowLatencyMode, catchUp: config.maxLiveSyncPlaybackRate };
    const hls = window.hls = new Hls(config);
    if (o.watchdog ?? true) window.lrWatchdog(hls, v);  // the player page's, as students get it
    hls.on(Hls.Events.ERROR, (_, d) => {
      if (d.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) lr.stalls++;
      // which buffer and why, where hls.js says (an append error: the browser's reason)
      const why = [d.sourceBufferName, d.error?.message ?? d.reason].filter(Boolean).join(': ');
      if (lr.errors.length < 30) lr.errors.push(`${d.type}/${d.details}${d.fatal ? ' FATAL' : ''}${why ? ` (${why.slice(0, 160)})` : ''}`);
      if (d.fatal) lr.fatal = `${d.type}/${d.details}`;
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => lr.levels.push(d.level));
    // which rendition's media it fetched, as it changed: [seconds, directory]
    const t0 = performance.now();
    hls.on(Hls.Events.FRAG_LOADED, (_, d) => {
      if (d.frag.type !== 'main') return;  // the video's, not the audio rendition's
      const dir = (d.part || d.frag).url.split('?')[0].split('/').slice(-2)[0];
      if (lr.renditions.at(-1)?.[1] !== dir && lr.renditions.length < 50)
        lr.renditions.push([Math.round((performance.now() - t0) / 100) / 10, dir]);
      const host = new URL((d.part || d.frag).url).host;
      if (lr.hosts.at(-1)?.[1] !== host && lr.hosts.length < 50) lr.hosts.push([Date.now(), host]);
      if (!lr.ccs.includes(d.frag.cc)) lr.ccs.push(d.frag.cc);
      lr.loaded = (lr.loaded ?? 0) + 1;
    });
    // the newest media appended, for the state printed while nothing plays
    hls.on(Hls.Events.FRAG_BUFFERED, (_, d) => {
      const f = d.part || d.frag;
      lr.lastBuffered = { type: d.frag.type, sn: d.frag.sn, part: d.part ? d.part.index : null,
                          start: +f.start.toFixed(3), duration: +f.duration.toFixed(3),
                          cc: d.frag.cc };
    });
    // the browser's own reason (hls.js then reports only that appends fail)
    v.addEventListener('error', () => {
      if (v.error && lr.errors.length < 30)
        lr.errors.push(`video/${v.error.code} (${(v.error.message || '').slice(0, 160)})`);
    });
    hls.loadSource(o.src);
    hls.attachMedia(v);
    v.addEventListener('ratechange', () => {});
    hls.on(Hls.Events.MANIFEST_PARSED, () => { v.playbackRate = o.rate ?? 1; v.play().catch(() => {}); });
  }, opts);

  const t0 = out.t0 = Date.now();
  const actions = [...(opts.actions ?? [])].sort((a, b) => a.at - b.at);
  let last = null, heldSince = null, stillSince = null;
  out.holds = [];
  for (;;) {
    const s = await page.evaluate(() => {
      const v = window.lr.video, h = window.hls;
      const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
      const sk = v.seekable.length ? [v.seekable.start(0), v.seekable.end(v.seekable.length - 1)] : null;
      return { t: v.currentTime, ended: v.ended, duration: v.duration, frames: q.totalVideoFrames ?? 0,
               seeking: v.seeking, seekable: sk, level: h.currentLevel,
               latency: h.playingDate ? Date.now() - h.playingDate.getTime() : null,
               edgeLatency: h.latency, targetLatency: h.targetLatency,
               error: v.error ? `${v.error.code} ${v.error.message}` : null };
    });
    const now = (Date.now() - t0) / 1000;
    // Nothing played yet: every 5 s, where the player stands and what it
    // holds, on a line of its own ("waiting {...}"), so that a test whose
    // player never starts says why (hlsjs.py puts the last one in its failure).
    if (out.played === 0 && now - (out.waitSaid ?? 0) >= 5) {
      out.waitSaid = now;
      out.startState = await page.evaluate(() => {
        const v = window.lr.video, h = window.hls;
        const ranges = (b) => { try { return Array.from({ length: b.length }, (_, i) => [+b.start(i).toFixed(3), +b.end(i).toFixed(3)]); } catch (e) { return String(e); } };
        const buffers = {};
        for (const [type, tr] of Object.entries(h.bufferController?.tracks ?? {}))
          if (tr?.buffer) buffers[type] = ranges(tr.buffer.buffered);
        const d = h.levels?.[h.currentLevel]?.details ?? h.levels?.[h.loadLevel]?.details;
        return { t: +v.currentTime.toFixed(3), readyState: v.readyState, paused: v.paused,
                 buffered: ranges(v.buffered), buffers, level: h.currentLevel, loadLevel: h.loadLevel,
                 startPosition: h.startPosition, liveSync: h.liveSyncPosition,
                 playlist: d ? { start: +(d.fragments[0]?.start ?? NaN).toFixed(3), edge: +(d.edge ?? NaN).toFixed(3),
                                 parts: d.partList?.length ?? 0, live: d.live, updated: d.updated } : null,
                 loaded: window.lr.loaded ?? 0, lastBuffered: window.lr.lastBuffered ?? null,
                 errors: window.lr.errors.slice(-5) };
      }).catch((e) => String(e));
      console.log(`waiting ${JSON.stringify(out.startState)}`);
    }
    if (last !== null && !s.seeking && s.t > last && s.t - last < 5) out.played += s.t - last;
    if (last !== null && !s.seeking && (s.t - last >= 5 || s.t < last) && out.holes.length < 40)
      out.holes.push([Math.round(now * 10) / 10, Math.round(last * 10) / 10, Math.round((s.t - last) * 10) / 10, 'jump']);
    if (out.played > 0 && !out.playingSaid) {
      out.playingSaid = Date.now();
      console.log(`playing ${out.playingSaid}`);
    }
    if (last !== null && s.t !== last) {
      if (stillSince !== null && Date.now() - stillSince >= 500 && out.holds.length < 40)
        out.holds.push([stillSince, Date.now() - stillSince]);
      stillSince = null;
    } else if (last !== null && stillSince === null && out.played > 0 && !s.seeking) {
      stillSince = Date.now();
    }
    if (last !== null && s.t !== last) {
      if (heldSince !== null && now - heldSince >= 1 && out.holes.length < 40)
        out.holes.push([Math.round(heldSince * 10) / 10, Math.round(last * 10) / 10,
                        -Math.round((now - heldSince) * 10) / 10, 'hold']);
      heldSince = null;
    } else if (last !== null && heldSince === null && out.played > 0) heldSince = now;
    last = s.t;
    if (s.latency !== null && s.t > 0) out.latencies.push(s.latency);
    Object.assign(out, { edgeLatency: s.edgeLatency, targetLatency: s.targetLatency });
    Object.assign(out, { currentTime: s.t, ended: s.ended, duration: s.duration,
                         frames: s.frames, seekable: s.seekable, mediaError: s.error });
    const elapsed = (Date.now() - t0) / 1000;
    while (actions.length && elapsed >= actions[0].at && out.played > 0) {
      const a = actions.shift();
      await page.evaluate((a) => {
        const v = window.lr.video, h = window.hls;
        if (a.do === 'level')  // as the quality menu does
          window.lrChooseLevel(h, a.level === 'top' ? h.levels.length - 1 : a.level);
        if (a.do === 'seekBack') v.currentTime = Math.max(0, v.currentTime - a.seconds);
        if (a.do === 'seekStart') v.currentTime = v.seekable.length ? v.seekable.start(0) : 0;
      }, a);
      last = null;  // a seek is not playback
    }
    const lr = await page.evaluate(() => ({ stalls: window.lr.stalls, errors: window.lr.errors,
                                            fatal: window.lr.fatal, levels: window.lr.levels, config: window.lr.config,
                                            watchdogRestarts: window.lrWatchdogRestarts ?? 0,
                                            protocols: window.lr.protocols,
                                            renditions: window.lr.renditions,
                                            hosts: window.lr.hosts, ccs: window.lr.ccs,
                                            // where a player that stopped stands: a seek
                                            // that never completes keeps the watchdog off
                                            seeking: window.lr.video.seeking,
                                            lastBuffered: window.lr.lastBuffered ?? null,
                                            fragsLoaded: window.lr.loaded ?? 0,
                                            // (hls.js's own state machine, not public API)
                                            streamState: window.hls.streamController?.state ?? null }));
    Object.assign(out, lr);
    // afterPlaying: the watch lasts `seconds` from when playback began
    // (a player that starts slowly beside a busy lane still gets them), or
    // ends at startDeadline if it never does
    const from = opts.afterPlaying ? out.playingSaid : t0;
    if (out.fatal || s.ended || (from && (Date.now() - from) / 1000 >= (opts.seconds ?? 20)) ||
        (!from && elapsed >= (opts.startDeadline ?? 60))) break;
    await page.waitForTimeout(250);
  }
  if (stillSince !== null && Date.now() - stillSince >= 500) out.holds.push([stillSince, Date.now() - stillSince]);
  delete out.playingSaid;
  delete out.waitSaid;
  if (out.played > 0) delete out.startState;
  out.ok = !out.fatal && !out.mediaError && out.frames > 0;
} catch (e) {
  out.error = String(e && e.stack || e);
} finally {
  if (context) await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
