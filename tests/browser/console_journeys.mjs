// A merchant's main journeys through the console in Debian's chromium (driven by playwright-core):
// sign in with a keystore, deposit, issue codes and download the CSV and labels, capture an EPCIS
// file with an error then a good one; axe-core on every page (desktop and phone, both languages);
// no Content-Security-Policy violation. Prints a JSON report; screenshots go to the out directory.
// node tests/browser/console_journeys.mjs <base url> <keystore file> <password> <gtin> <lot> <out dir>
import fs from 'node:fs';
import path from 'node:path';
import { agreeToSignatures, audit as auditPage, launch, newReport, signIn, watch as watchPage } from './lib.mjs';

const [base, keystore, password, gtin, lot, newGtin, out] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });
const report = newReport();
const browser = await launch();
const watch = (page) => watchPage(page, report);
const audit = (page, name) => auditPage(page, name, report, out);

async function timed(name, fn) {
  const t = Date.now();
  await fn();
  report.steps[name] = Date.now() - t;
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const page = await context.newPage();
  watch(page);
  agreeToSignatures(page, report);
  await page.goto(`${base}/console/?lang=en`);
  await audit(page, 'signin-desktop-en');
  await timed('sign_in', async () => {
    await signIn(page, base, keystore, password, 'en', /\/console\/merchant/);
    await page.waitForSelector('#deposit dd');
  });
  report.signed_in_as = await page.textContent('#who');
  await audit(page, 'merchant-desktop-en');
  const balance = async () => page.textContent('#deposit dd');
  const before = await balance();
  await timed('deposit', async () => {
    await page.fill('#deposit-amount', '50');
    await page.click('#deposit-form button');
    // signed here with the member's own key: the page asks the keystore's password once
    await page.waitForSelector('#unlock-form:not([hidden])', { timeout: 60000 });
    await audit(page, 'unlock-desktop-en');
    await page.fill('#unlock-password', password);
    await page.press('#unlock-password', 'Enter');
    // the step's end: its status (Done or an error), set after the account is read again
    await page.waitForFunction(() => document.querySelector('#deposit-status').textContent, null, { timeout: 60000 });
  });
  report.deposit = { before, after: await balance(), status: await page.textContent('#deposit-status') };
  await timed('withdrawal_request', async () => {
    await page.fill('#deposit-amount', '10');
    // the deposit's "Done" must not stand for this step's answer on a slow machine
    await page.evaluate(() => { document.querySelector('#deposit-status').textContent = ''; });
    await page.click('#withdraw-request');
    await page.waitForFunction(() => document.querySelector('#unlock-countdown').textContent
      || document.querySelector('#deposit-status.error'), null, { timeout: 60000 });
  });
  report.countdown = await page.textContent('#unlock-countdown');
  await page.waitForSelector('#orders tbody tr:not(:has(td[colspan]))');
  report.orders_row = await page.textContent('#orders tbody tr');
  report.cases_row = await page.textContent('#cases tbody tr');
  const owed = () => page.textContent('#payouts dd:last-of-type');
  report.owed_before = await owed();
  await timed('pull_payouts', async () => {  // the key is unlocked already: signed without asking again
    await page.click('#payouts-pull');
    await page.waitForFunction((b) => document.querySelector('#payouts-status.error')
      || document.querySelector('#payouts dd:last-of-type').textContent !== b, report.owed_before, { timeout: 60000 });
  });
  report.payouts_status = await page.textContent('#payouts-status');
  report.owed_after = await owed();
  report.withdrawal_status = await page.textContent('#deposit-status');
  // the merchant's referral terms: level 3 lowered to 0.5 %, a transaction signed in the page
  report.referral_before = await page.textContent('#referral-terms');
  await page.fill('#referral-3', '0.5');
  await page.click('#referral-form button[type="submit"]');
  await page.waitForFunction(() => /^(完成|Done)/.test(document.querySelector('#referral-status').textContent)
    || document.querySelector('#referral-status.error'), null, { timeout: 60000 });
  report.referral_after = await page.textContent('#referral-terms');
  report.referral_status = await page.textContent('#referral-status');
  await timed('register_and_recall', async () => {  // each a transaction signed in the page
    // a GTIN mistyped in its last digit: refused before anything is signed, said as a person reads it
    const wrong = newGtin.slice(0, 13) + String((Number(newGtin[13]) + 1) % 10);
    await page.evaluate(() => { document.querySelector('#products-status').textContent = ''; });
    await page.fill('#product-gtin', wrong);
    await page.fill('#product-name', '龙井 Longjing');
    await page.click('#product-form button');
    await page.waitForFunction(() => document.querySelector('#products-status').textContent, null, { timeout: 60000 });
    report.check_digit_status = await page.textContent('#products-status');
    await page.fill('#product-gtin', newGtin);
    await page.fill('#product-name', '龙井 Longjing');
    await page.click('#product-form button');
    await page.waitForSelector(`#products td:text-is("${newGtin}")`, { timeout: 60000 });
    await page.fill('#batch-gtin', newGtin);
    await page.fill('#batch-lot', 'LJ/2026');
    await page.evaluate(() => { document.querySelector('#products-status').textContent = ''; });
    await page.click('#batch-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#products-status').textContent, null, { timeout: 60000 });
    report.batch_status = await page.textContent('#products-status');
    await page.fill('#batch-reason', 'mould found in storage');
    await page.evaluate(() => { document.querySelector('#products-status').textContent = ''; });
    await page.click('#batch-recall');
    await page.waitForFunction(() => document.querySelector('#products-status').textContent, null, { timeout: 60000 });
    report.recall_status = await page.textContent('#products-status');
    await page.waitForFunction(() => /LJ\/2026.*recalled/.test(document.querySelector('#batches tbody').textContent),
      null, { timeout: 30000 });
    report.batches = await page.textContent('#batches tbody');
  });
  await timed('carbon_trend', async () => {  // the new product has no footprint yet: the page says so
    await page.fill('#carbon-gtin', newGtin);
    await page.click('#carbon-form button');
    await page.waitForFunction(() => /\S/.test(document.querySelector('#carbon-status').textContent)
      && document.querySelector('#carbon-status').textContent !== 'Loading…', null, { timeout: 30000 });
    report.carbon_status = await page.textContent('#carbon-status');
  });
  await timed('pact_partners', async () => {  // a PACT partner added with its secret, refused in words, removed
    const answered = async () => {
      await page.waitForFunction(() => /\S/.test(document.querySelector('#partner-status').textContent), null, { timeout: 30000 });
      const said = await page.textContent('#partner-status');
      await page.evaluate(() => { document.querySelector('#partner-status').textContent = ''; });
      return said;
    };
    await page.fill('#partner-url', 'https://pact.example.com/?token=1');
    await page.fill('#partner-client', 'tea-co');
    await page.fill('#partner-secret', 's3cret-of-theirs');
    await page.click('#partner-form button');
    report.partner_refused = await answered();
    await page.fill('#partner-url', 'http://127.0.0.1:9/pact');
    await page.click('#partner-form button');
    report.partner_added = await answered();
    report.partner_secret_left = await page.inputValue('#partner-secret');
    report.partners_row = await page.textContent('#partners tbody');
    page.once('dialog', (d) => { report.partner_dialog = d.message(); d.accept(); });
    await page.click('#partners tbody button');
    report.partner_removed = await answered();
    report.partners_after = await page.textContent('#partners tbody');
  });
  await timed('issue_codes', async () => {
    await page.fill('#codes-gtin', gtin);  // a lot never registered first: the page names what is missing
    await page.fill('#codes-lot', 'NO-SUCH');
    await page.click('#codes-form button');
    await page.waitForSelector('#codes-status.error', { timeout: 30000 });
    report.codes_missing = await page.textContent('#codes-status');
    await page.fill('#codes-lot', lot);
    await page.fill('#codes-count', '12');
    await page.click('#codes-form button');
    await page.waitForFunction(() => !document.querySelector('#codes-downloads').hidden
      || document.querySelector('#codes-status').classList.contains('error'), null, { timeout: 60000 });
    const status = await page.textContent('#codes-status');
    if (await page.isHidden('#codes-downloads')) throw new Error(`issuing codes failed: ${status}`);
  });
  report.codes_status = await page.textContent('#codes-status');
  await page.waitForSelector('#qr:not([hidden])');
  report.qr = await page.evaluate(() => {
    const img = document.querySelector('#qr-img');
    return { width: img.naturalWidth, caption: document.querySelector('#qr-caption').textContent };
  });
  for (const [id, file] of [['#codes-downloads a:last-child', 'codes.csv'], ['#codes-downloads a:first-child', 'labels.pdf']]) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(id)]);
    await download.saveAs(path.join(out, file));
  }
  report.csv = fs.readFileSync(path.join(out, 'codes.csv'), 'utf8');
  report.pdf_bytes = fs.statSync(path.join(out, 'labels.pdf')).size;
  const epcis = (name, body) => {
    const file = path.join(out, name);
    fs.writeFileSync(file, JSON.stringify(body));
    return file;
  };
  const event = {
    type: 'ObjectEvent', eventTime: '2026-11-24T08:00:00.000+08:00', eventTimeZoneOffset: '+08:00',
    epcList: [`https://id.gs1.org/01/${gtin}/21/CONSOLE1`], action: 'OBSERVE', bizStep: 'shipping',
  };
  const doc = (events) => ({
    '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld'], type: 'EPCISDocument',
    schemaVersion: '2.0', creationDate: '2026-11-24T08:00:00.000Z', epcisBody: { eventList: events },
  });
  fs.writeFileSync(path.join(out, 'notes.json'), 'shipped on Monday');  // a file that is not JSON at all
  await page.setInputFiles('#epcis-file', path.join(out, 'notes.json'));
  await page.click('#epcis-form button');
  await page.waitForSelector('#epcis-result .error');
  report.epcis_not_json = await page.textContent('#epcis-result li');
  await page.evaluate(() => document.querySelector('#epcis-result').replaceChildren());
  await page.setInputFiles('#epcis-file', epcis('bad.json', doc([{ ...event, eventTime: 'soon' }])));
  await page.click('#epcis-form button');
  await page.waitForSelector('#epcis-result .error');
  report.epcis_refused = await page.textContent('#epcis-result');
  await page.setInputFiles('#epcis-file', epcis('good.json', doc([event])));
  await page.click('#epcis-form button');
  await page.waitForFunction(() => !document.querySelector('#epcis-result .error') && document.querySelector('#epcis-result p'));
  report.epcis_stored = await page.textContent('#epcis-result');
  report.epcis_check = await page.getAttribute('#epcis-events a', 'href');
  // a code scanned, then the merchant's scan statistics (the page loads them when it opens)
  const uri = report.csv.split('\n')[1].split(',')[1];
  await page.request.get(uri.replace(/^https?:\/\/[^/]+/, base), { headers: { Accept: 'application/json' } });
  await page.reload();
  await page.waitForSelector('#scans tbody tr');
  report.scans_row = await page.textContent('#scans tbody tr');
  report.scans_bars = await page.locator('#scans-chart rect').count();
  await page.goto(`${base}/console/?lang=en`);  // signed in, the sign-in page manages API keys
  await page.waitForSelector('#keys:not([hidden])');
  await page.fill('#key-name', 'label printer');
  await page.press('#key-name', 'Enter');
  await page.waitForFunction(() => document.querySelector('#key-status').textContent);
  report.key_status = await page.textContent('#key-status');
  await page.click('#key-list button');
  await page.waitForSelector('#key-list td:text-is("revoked")');
  await audit(page, 'keys-desktop-en');
  await page.goto(`${base}/console/merchant?lang=zh`);
  await page.waitForSelector('#deposit dd');
  await audit(page, 'merchant-desktop-zh');
  report.zh_heading = await page.textContent('h1');
  await page.goto(`${base}/console/auditor?lang=en`);
  await audit(page, 'auditor-desktop-en');

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const small = await phone.newPage();
  watch(small);
  await small.goto(`${base}/console/?lang=zh`);
  await audit(small, 'signin-phone-zh');
  await small.goto(`${base}/console/merchant?lang=en`);
  await audit(small, 'merchant-phone-en');
  report.phone_overflow = await small.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
} catch (err) {
  report.errors.push(String(err && err.stack || err));
} finally {
  await browser.close();
  process.stdout.write(JSON.stringify(report));
}
