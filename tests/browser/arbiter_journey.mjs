// Two arbiters rule on a case in their browsers: the second arbiter shows the case and signs the
// ruling with its own key (EIP-712, in the page); the arbiter who opened the case pastes that
// signature, adds its own and submits the ruling, a transaction signed in the page.
// node tests/browser/arbiter_journey.mjs <base url> <second arbiter keystore> <opener keystore> <password> <case id> <out dir>
import fs from 'node:fs';
import { agreeToSignatures, audit, launch, newReport, signIn, watch } from './lib.mjs';

const [base, second, opener, password, caseId, out] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });
const report = newReport();

async function signRuling(page, passed = '') {
  await page.fill('#rule-case', caseId);
  await page.selectOption('#rule-payout', 'true');
  await page.click('#rule-form button[type=submit]');
  await page.waitForSelector('#rule-sign:not([hidden])');
  if (passed) await page.fill('#rule-signatures', passed);  // passed on by the other arbiter
  const before = (await page.inputValue('#rule-signatures')).trim().split(/\s+/).filter(Boolean).length;
  await page.click('#rule-sign-mine');
  await page.waitForSelector('#unlock-form:not([hidden])');
  report.unlock_summary ??= await page.textContent('#unlock-summary');  // the first arbiter's, in Chinese
  await page.fill('#unlock-password', password);
  await page.press('#unlock-password', 'Enter');
  await page.waitForFunction((n) => document.querySelector('#rule-signatures').value.trim().split(/\s+/).filter(Boolean).length > n,
    before, { timeout: 60000 });
  return page.inputValue('#rule-signatures');
}

const browser = await launch();
try {
  const a = await (await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true })).newPage();
  watch(a, report);
  await signIn(a, base, second, password, 'zh', /\/console\/arbiter/);
  report.figures = null;
  const signature = (await signRuling(a)).trim();
  report.figures = await a.textContent('#rule-case-figures');
  report.first_status = await a.textContent('#rule-status');
  await audit(a, 'arbiter-phone-zh', report, out);
  const b = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  watch(b, report);
  agreeToSignatures(b, report);
  await signIn(b, base, opener, password, 'en', /\/console\/arbiter/);
  report.signatures = (await signRuling(b, signature)).trim().split(/\s+/).length;
  await b.click('#rule-submit');
  await b.waitForFunction(() => /Done|Error/.test(document.querySelector('#rule-status').textContent), null, { timeout: 60000 });
  report.status = await b.textContent('#rule-status');
  await audit(b, 'arbiter-desktop-en', report, out);
} catch (err) {
  report.errors.push(String(err && err.stack || err));
} finally {
  await browser.close();
  process.stdout.write(JSON.stringify(report));
}
