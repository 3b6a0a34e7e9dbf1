// Browser test driver for the operator's status page: opens /status in
// headless Chromium (desktop, or a phone's viewport), waits for its charts,
// and reads what they draw twice, a few seconds apart, with a screenshot
// each time.
//
// usage: node tests/browser/status_page.mjs '<json>'
//   {"url": "http://127.0.0.1:8080/status",
//    "shots": "/dir/prefix",       screenshots <prefix>-1.png, <prefix>-2.png
//    "phone": false,               360x740, touch, a phone's scale
//    "apart": 5,                   seconds between the two readings
//    "wait": 30}                   seconds to wait for the first charts
// Prints one JSON line: status (the page's HTTP status), readings (two lists
// of {lecture, title, lines, points, last: [last value of each line]}),
// events (the time line's items: [kind, text]), scrollWidth/innerWidth,
// pageErrors, error.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const opts = JSON.parse(process.argv[2] ?? '{}');
const executablePath = process.env.LR_CHROMIUM || '/usr/bin/chromium';
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lr-chromium-'));
const out = { status: 0, readings: [], events: [], pageErrors: [], error: null };
let context;

function readCharts() {
  const s = window.lrStatus;
  const list = [];
  for (const c of s.charts.values()) {
    const d = c.plot.data;
    let points = 0;
    const last = [];
    for (let k = 1; k < d.length; k++) {
      let l = null;
      for (const v of d[k])
        if (v != null) {
          points++;
          l = v;
        }
      last.push(l);
    }
    list.push({ lecture: c.lecture ?? null, title: c.def.title, lines: d.length - 1, points, last });
  }
  return list;
}

try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
    ...(opts.phone ? { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2,
                       isMobile: true, hasTouch: true }
                   : { viewport: { width: 1280, height: 900 } }),
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  const resp = await page.goto(opts.url, { waitUntil: 'load' });
  out.status = resp ? resp.status() : 0;
  if (out.status === 200) {
    await page.waitForFunction(() => window.lrStatus && window.lrStatus.updates >= 3 &&
                                     window.lrStatus.charts.size > 0,
                               null, { timeout: (opts.wait ?? 30) * 1000 });
    for (let i = 1; i <= 2; i++) {
      if (i === 2)
        await page.waitForTimeout((opts.apart ?? 5) * 1000);
      out.readings.push(await page.evaluate(readCharts));
      if (opts.shots)
        await page.screenshot({ path: `${opts.shots}-${i}.png`, fullPage: true });
    }
    out.events = await page.evaluate(() => window.lrStatus.events.map((e) => [e.kind, e.text]));
    out.scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    out.innerWidth = await page.evaluate(() => window.innerWidth);
  }
} catch (e) {
  out.error = String(e);
} finally {
  if (context)
    await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
