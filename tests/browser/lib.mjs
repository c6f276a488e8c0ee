// What the browser journeys share: launching Debian's chromium, axe-core and first paint per page,
// Content-Security-Policy violations and page errors collected into the report.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const axeSource = fs.readFileSync(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');

export function newReport() {
  return { csp: [], errors: [], axe: {}, steps: {}, first_paint_ms: {} };
}

export async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
}

export function watch(page, report) {
  page.on('console', (m) => { if (/Content.Security.Policy|Refused to/i.test(m.text())) report.csp.push(m.text()); });
  page.on('pageerror', (e) => report.errors.push(e.message));
}

export async function audit(page, name, report, out) {
  report.first_paint_ms[name] = await page.evaluate(() => new Promise((resolve) => {
    const seen = (list) => {
      const fcp = list.getEntriesByName('first-contentful-paint')[0];
      if (fcp) resolve(Math.round(fcp.startTime));
    };
    seen(performance);
    new PerformanceObserver(seen).observe({ type: 'paint', buffered: true });
    setTimeout(() => resolve(null), 3000);
  }));
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'best-practice'] }));
  report.axe[name] = result.violations
    .filter((v) => ['serious', 'critical'].includes(v.impact))
    .map((v) => `${v.id}: ${v.help} (${v.nodes.length})`);
  await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
}

export async function signIn(page, base, keystore, password, lang, landing) {
  await page.goto(`${base}/console/?lang=${lang}`);
  await page.setInputFiles('#keystore', keystore);
  await page.fill('#password', password);
  await page.press('#password', 'Enter');  // keyboard only
  // the keystore's scrypt runs in the page: slow on a loaded machine, so wait long, and say what
  // the page said if it never lands (a refused sign-in stays on the page with its reason)
  await page.waitForURL(landing, { timeout: 120000 }).catch(async (err) => {
    const said = await page.textContent('#signin-status').catch(() => '?');
    throw new Error(`sign-in with ${path.basename(keystore)} did not reach ${landing} (${page.url()}): "${said}"; ${err.message}`);
  });
}

// Every transaction the page asks to sign is first shown decoded (#sign-confirm): the journey reads
// what the page showed into report.signed_calls and agrees ("Sign"), as a member reading it would.
export function agreeToSignatures(page, report) {
  report.signed_calls = [];
  (async () => {
    for (;;) {
      try {
        await page.waitForSelector('#sign-confirm:not([hidden]) #sign-go:not([hidden])', { timeout: 0 });
        report.signed_calls.push(await page.textContent('#sign-call'));
        await page.click('#sign-go');
      } catch { return; }  // the page or browser closed
    }
  })();
}
