// Every role's landing on a 390×844 phone in Chinese and English, the signing dialog (what a
// signature will do, before the password), and the consumer's scan page: each screen checked as a
// person would use it (no horizontal overflow, no English word on the Chinese page outside user
// data, every visible control at least 44 px tall) and kept as a small screenshot.
// node tests/browser/phone_tour.mjs <base url> <keys dir> <password> <scan uri> <out dir>
// (keys dir holds <member>.json keystores, as `ledger keys export-dev <member> FILE` writes them)
import fs from 'node:fs';
import path from 'node:path';
import { launch, look, newReport, signIn, watch } from './lib.mjs';

const [base, keys, password, scanUri, out] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });
const report = newReport();
report.screens = {};
report.governor_attention = {};
report.scan_parties = {};
report.scan_cold_chain = {};
const ROLES = [['merchant_a', 'merchant'], ['auditor', 'auditor'], ['governor_2', 'governor'], ['issuer', 'issuer'],
  ['platform', 'operator'], ['logistics', 'carrier'], ['arbiter', 'arbiter'], ['inspector', 'inspector']];

const ALLOW = ['GTIN', 'EPCIS', 'PACT', 'JSON', 'LD', 'XML', 'CSV', 'PDF', 'API', 'Keystore', 'keystore', 'English', 'traceledger', 'GS', 'Gas',
  'Merkle', 'ledger', 'verify', 'MetaMask', 'wei', 'make', 'run', 'LEDGER_KEYSTORE_PASSWORD', 'python', 'keys', 'new', 'export', 'dev'];

async function shot(page, name, lang, allow = ALLOW) {
  report.screens[name] = await look(page, lang, allow);
  await page.screenshot({ path: path.join(out, `${name}.png`) });
}

const browser = await launch();
try {
  for (const lang of ['zh', 'en']) {
    const first = await (await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })).newPage();
    watch(first, report);
    await first.goto(`${base}/console/?lang=${lang}`);  // signed out: where a keystore comes from
    await shot(first, `signin-${lang}`, lang);
    await first.context().close();
    for (const [member, page] of ROLES) {
      const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
      const p = await ctx.newPage();
      watch(p, report);
      await signIn(p, base, path.join(keys, `${member}.json`), password, lang, new RegExp(`/console/${page}`));
      await p.waitForFunction(() => !document.querySelector('#attention-list li:only-child')
        || !/读取|Loading/.test(document.querySelector('#attention-list').textContent), null, { timeout: 30000 });
      await p.waitForTimeout(800);  // the page's other lists
      await shot(p, `${page}-${lang}`, lang);
      if (page === 'governor') report.governor_attention[lang] = await p.textContent('#attention-list');
      if (page === 'merchant') {
        await p.fill('#deposit-amount', '100');
        await p.click('#deposit-form button[type=submit]');
        await p.waitForSelector('#sign-confirm:not([hidden]) #sign-go:not([hidden])', { timeout: 30000 });
        await shot(p, `signing-${lang}`, lang);
        report.screens[`signing-${lang}`].summary = await p.textContent('#sign-summary');
        await p.click('#sign-go');
        await p.waitForSelector('#unlock-form:not([hidden])');
        await shot(p, `unlock-${lang}`, lang);
        report.screens[`unlock-${lang}`].summary = await p.textContent('#unlock-summary');
        await p.click('#unlock-cancel');
      }
      if (page === 'auditor') {  // a merchant on the auditor's page: told so in its language, no 403
        await p.goto(`${base}/console/governor?lang=${lang}`);
        await p.waitForSelector('#role-missing:not([hidden])');
        await shot(p, `not-mine-${lang}`, lang);
        report.screens[`not-mine-${lang}`].text = await p.textContent('#role-missing');
      }
      await ctx.close();
    }
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true });
    const p = await ctx.newPage();
    watch(p, report);
    await p.goto(`${scanUri}${scanUri.includes('?') ? '&' : '?'}lang=${lang}`);
    await shot(p, `scan-${lang}`, lang, [...ALLOW, 'https', 'id', 'gs', 'org']);
    report.scan_parties[lang] = await p.textContent('#supply-chain').catch(() => '');
    report.scan_cold_chain[lang] = await p.textContent('#cold-chain-alarm').catch(() => '');
    await ctx.close();
  }
} catch (err) {
  report.errors.push(String(err && err.stack || err));
} finally {
  await browser.close();
  process.stdout.write(JSON.stringify(report));
}
