// Browser test: a student opening the player page in headless Chromium.
// usage: node tests/browser/play.mjs WATCH_URL [MIN_SECONDS=8] [DEADLINE_SECONDS=20]
// Passes (exit 0) when video.currentTime advances by MIN_SECONDS within the
// deadline, frames were decoded and hls.js reported no fatal error.
// Prints one JSON summary line on stdout either way.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const url = process.argv[2];
const minSeconds = Number(process.argv[3] ?? 8);
const deadlineSeconds = Number(process.argv[4] ?? 20);
if (!url) {
  console.error('usage: node play.mjs WATCH_URL [MIN_SECONDS] [DEADLINE_SECONDS]');
  process.exit(2);
}

const executablePath = process.env.LR_CHROMIUM || '/usr/bin/chromium';
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lr-chromium-'));
const summary = { url, ok: false, startTime: null, currentTime: null, played: 0,
                  totalVideoFrames: 0, droppedVideoFrames: 0, hlsFatalError: undefined,
                  pageErrors: [], console: [], failedRequests: [], error: null };
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (e) => summary.pageErrors.push(String(e)));
  page.on('console', (m) => { if (summary.console.length < 50) summary.console.push(`${m.type()}: ${m.text()}`); });
  page.on('requestfailed', (r) => summary.failedRequests.push(`${r.url()} ${r.failure()?.errorText}`));

  const resp = await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 15000 });
  if (!resp || !resp.ok()) throw new Error(`GET ${url} -> ${resp ? resp.status() : 'no response'}`);
  const deadline = Date.now() + deadlineSeconds * 1000;

  const sample = () => page.evaluate(() => {
    const v = document.getElementById('video');
    if (!v) return { missing: true };
    const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
    return { currentTime: v.currentTime, paused: v.paused, muted: v.muted,
             readyState: v.readyState,
             error: v.error ? `${v.error.code} ${v.error.message}` : null,
             totalVideoFrames: q.totalVideoFrames ?? 0,
             droppedVideoFrames: q.droppedVideoFrames ?? 0,
             hlsFatalError: window.hlsFatalError === undefined ? 'undefined (page never set it)'
                                                                : window.hlsFatalError };
  });

  let s;
  for (;;) {
    s = await sample();
    if (s.missing) throw new Error('no <video id="video"> on the page');
    if (summary.startTime === null && s.currentTime > 0) summary.startTime = s.currentTime;
    const played = summary.startTime === null ? 0 : s.currentTime - summary.startTime;
    Object.assign(summary, { currentTime: s.currentTime, played, totalVideoFrames: s.totalVideoFrames,
                             droppedVideoFrames: s.droppedVideoFrames, hlsFatalError: s.hlsFatalError,
                             paused: s.paused, muted: s.muted, readyState: s.readyState,
                             mediaError: s.error });
    if (s.hlsFatalError) break;                       // fatal: no point waiting
    if (played >= minSeconds) break;
    if (Date.now() > deadline) break;
    await page.waitForTimeout(250);
  }
  const problems = [];
  if (summary.played < minSeconds) problems.push(`played ${summary.played.toFixed(2)} s < ${minSeconds} s within ${deadlineSeconds} s`);
  if (!(summary.totalVideoFrames > 0)) problems.push('no video frames decoded');
  if (summary.hlsFatalError !== null) problems.push(`hlsFatalError = ${JSON.stringify(summary.hlsFatalError)}`);
  if (summary.mediaError) problems.push(`video.error = ${summary.mediaError}`);
  summary.ok = problems.length === 0;
  if (!summary.ok) summary.error = problems.join('; ');
} catch (e) {
  summary.error = String(e && e.stack || e);
} finally {
  if (context) await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(summary));
process.exit(summary.ok ? 0 : 1);
