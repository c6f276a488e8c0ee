// First paints of the console's pages in Debian's chromium (playwright-core): each page loaded
// `reps` times in a tab signed in as its role; per load, the first contentful paint and the
// "meaningful" paint: the moment the page shows its data (the selectors given), from navigation.
// node bench/console_paint.mjs <base> <reps> <spec json: [{page, keystore?, password?, ready: [selectors]}]>
import { chromium } from 'playwright-core';

const [base, reps, specJson] = process.argv.slice(2);
const specs = JSON.parse(specJson);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const out = {};
try {
  for (const spec of specs) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    if (spec.keystore) {
      await page.goto(`${base}/console/?lang=zh`);
      await page.setInputFiles('#keystore', spec.keystore);
      await page.fill('#password', spec.password);
      await page.press('#password', 'Enter');
      await page.waitForURL(/\/console\/(merchant|auditor|governor)/, { timeout: 60000 });
    }
    const url = `${base}/console/${spec.page === 'signin' ? '' : spec.page}?lang=zh`;
    const samples = { fcp: [], meaningful: [] };
    for (let i = 0; i < Number(reps); i += 1) {
      await page.goto(url);
      await page.waitForFunction((sel) => sel.every((s) => document.querySelector(s)), spec.ready, { timeout: 30000, polling: 'raf' });
      const t = await page.evaluate(() => {
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        return { now: performance.now(), fcp: fcp ? fcp.startTime : null };
      });
      samples.fcp.push(t.fcp);
      samples.meaningful.push(t.now);
    }
    out[spec.page] = samples;
    await context.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
