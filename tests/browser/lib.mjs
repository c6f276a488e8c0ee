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
  // where a slow paint's time went: the server's answer (first byte), the document parsed, then paint
  report.paint_parts ??= {};
  report.paint_parts[name] = await page.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0];
    return n ? { first_byte: Math.round(n.responseStart), parsed: Math.round(n.domInteractive),
      loaded: Math.round(n.domContentLoadedEventEnd) } : null;
  });
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

export async function signIn(page, base, keystore, password, lang, landing, open = true) {
  if (open) await page.goto(`${base}/console/?lang=${lang}`);  // else: on the sign-in page already
  // keyboard only; the keystore's scrypt runs in the page: slow on a loaded machine, so wait long.
  // A refusal stays on the page with its reason: a person reads it and tries once more (CI saw
  // "wrong password" for the right one twice, on a machine loaded far beyond its cores,
  // 2026-12-05; the page now names any other failure of the keystore as it is). Twice: it fails.
  const attempt = async () => {
    await page.setInputFiles('#keystore', keystore);  // both fields again: a form drawn anew is empty
    await page.fill('#password', password);
    await page.press('#password', 'Enter');
    return Promise.race([
      page.waitForURL(landing, { timeout: 120000 }).then(() => 'landed', (err) => err.message),
      page.waitForSelector('#signin-status.error', { timeout: 120000 }).then(() => 'refused', () => 'timeout'),
    ]);
  };
  let outcome = await attempt();
  if (outcome === 'refused') {
    const said = await page.textContent('#signin-status').catch(() => '?');
    process.stderr.write(`sign-in with ${path.basename(keystore)} refused once ("${said}"): tried again\n`);
    outcome = await attempt();
  }
  if (outcome !== 'landed') {
    const said = await page.textContent('#signin-status').catch(() => '?');
    throw new Error(`sign-in with ${path.basename(keystore)} did not reach ${landing} (${page.url()}): "${said}"; ${outcome}`);
  }
}

// Every transaction the page asks to sign is first shown decoded (#sign-confirm): the journey reads
// what the page showed into report.signed_calls and agrees ("Sign"), as a member reading it would.
export function agreeToSignatures(page, report) {
  report.signed_calls = [];
  report.signed_summaries = [];
  (async () => {
    for (;;) {
      try {
        await page.waitForSelector('#sign-confirm:not([hidden]) #sign-go:not([hidden])', { timeout: 0 });
        report.signed_calls.push(await page.textContent('#sign-call'));
        report.signed_summaries.push(await page.textContent('#sign-summary'));
        await page.click('#sign-go');
      } catch { return; }  // the page or browser closed
    }
  })();
}

// what a person sees on this screen: overflow, English on a Chinese page, small touch targets
export async function look(page, lang, allow = []) {
  return page.evaluate(([lang, allow]) => {
    const seen = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
      return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && !el.closest('[hidden]'); };
    const small = [...document.querySelectorAll('button, a, input:not([type=checkbox]), select')]
      .filter((el) => seen(el) && !el.closest('p, li, td, dd, small') && el.getBoundingClientRect().height < 44)
      .concat([...document.querySelectorAll('button, select, input:not([type=checkbox])')].filter((el) => seen(el) && el.getBoundingClientRect().height < 44))
      .map((el) => `${el.tagName.toLowerCase()}#${el.id || ''} ${el.textContent.trim().slice(0, 20)} ${Math.round(el.getBoundingClientRect().height)}px`);
    let english = [];
    if (lang === 'zh') {
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      // user data is not the page's words: code, table cells, [translate=no], addresses and hashes
      const skip = (n) => n.parentElement.closest('code, pre, time, script, style, [hidden], [lang="en"], [translate="no"], td, #sign-call, #records, #chain-detail');
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        if (skip(n)) continue;
        const words = n.textContent.replace(/0x[0-9a-fA-F]+(…[0-9a-fA-F]+)?/g, ' ');
        for (const w of words.match(/[A-Za-z]{3,}/g) || []) if (!allow.includes(w)) english.push(w);
      }
      english = [...new Set(english)];
    }
    return { scroll_width: document.documentElement.scrollWidth, small: [...new Set(small)], english };
  }, [lang, allow]);
}

