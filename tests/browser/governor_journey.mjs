// A governor signs in with a keystore, finds an open proposal with its decoded action, and approves
// it with a transaction signed in the page by the governor's own key; axe-core on the page.
// node tests/browser/governor_journey.mjs <base url> <keystore file> <password> <proposal id> <out dir>
import fs from 'node:fs';
import { agreeToSignatures, audit, launch, newReport, signIn, watch } from './lib.mjs';

const [base, keystore, password, proposal, out] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });
const report = newReport();
const browser = await launch();
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  watch(page, report);
  agreeToSignatures(page, report);
  await signIn(page, base, keystore, password, 'zh', /\/console\/governor/);
  const row = `#proposals tr[data-proposal="${proposal}"]`;
  await page.waitForSelector(row);
  report.first_row = await page.getAttribute('#proposals tbody tr', 'data-proposal');  // newest first
  await page.waitForSelector('#members tbody tr');
  await page.waitForSelector('#parameters dd');
  await audit(page, 'governor-desktop-zh', report, out);
  report.members = await page.textContent('#members tbody');
  report.parameters = await page.textContent('#parameters');
  report.before = await page.textContent(row);
  await page.waitForSelector('#attention-list li.needs');
  report.attention = await page.textContent('#attention-list');
  await page.click(`${row} button`);
  await page.waitForSelector('#unlock-form:not([hidden])');
  await page.fill('#unlock-password', password);
  await page.press('#unlock-password', 'Enter');
  await page.waitForFunction((r) => !document.querySelector(`${r} button`) || document.querySelector('#governor-status.error'),
    row, { timeout: 60000 });
  report.after = await page.textContent(row);
  report.status = await page.textContent('#governor-status');
  // a GS1 company prefix to a merchant: the form shows the prefix and names the address its holder
  const holder = await page.$$eval('#members tbody tr', (trs) => {
    const tr = trs.find((t) => t.cells[1].textContent.includes('商家'));
    return tr && tr.querySelector('code').title;
  });
  await page.selectOption('#propose-type', 'assign_prefix');
  report.prefix_form = {
    prefix_shown: await page.isVisible('#propose-prefix'),
    root_shown: await page.isVisible('#propose-root'),
    holder_label: await page.textContent('label[for="propose-address"]'),
  };
  const prefix = String(6900000 + Math.floor(Math.random() * 99999));
  await page.fill('#propose-prefix', prefix);
  await page.fill('#propose-address', holder);
  await page.fill('#propose-reason', '品牌商取得厂商识别代码');
  await page.click('#propose-form button[type="submit"]');
  await page.waitForFunction(() => /#\d+/.test(document.querySelector('#propose-status').textContent)
    || document.querySelector('#propose-status.error'), null, { timeout: 60000 });
  report.proposed = { prefix, status: await page.textContent('#propose-status') };
  report.roots_status = await page.textContent('#roots-status');
  // the session ends with the page open (a token the server no longer takes): back to sign-in,
  // saying so, and once signed in again back on this page
  await page.evaluate(() => sessionStorage.setItem('tl_token', 'tls_an_ended_session'));
  // the page leaves for sign-in at its first refused call: its own load may be cut short, and a
  // waitForURL then fails on the aborted navigation itself (CI: net::ERR_ABORTED, frame detached),
  // so the address is polled from here until it is the sign-in page's
  await page.goto(`${base}/console/governor?lang=zh`).catch(() => {});
  const until = Date.now() + 60000;
  while (!/\/console\/\?.*expired=1/.test(page.url())) {
    if (Date.now() > until) throw new Error(`never sent back to sign-in: still at ${page.url()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.waitForSelector('#signin-status.error', { timeout: 60000 });
  report.expired = { said: await page.textContent('#signin-status') };
  await signIn(page, base, keystore, password, 'zh', /\/console\/governor/, false);
  report.expired.back = page.url();
} catch (err) {
  report.errors.push(String(err && err.stack || err));
} finally {
  await browser.close();
  process.stdout.write(JSON.stringify(report));
}
