// An auditor's journeys: sign in with a keystore; find a batch's on-chain records with filters and
// follow one to its transaction; verify a code URI (genuine, then with another serial) and an
// EPCIS document against the chain in the page; open a reconciliation run's breaks; filter the
// audit log by actor. axe-core on the page (desktop and phone), screenshots to the out directory.
// node tests/browser/auditor_journey.mjs <base url> <keystore> <password> <gtin> <code uri> <forged uri>
//   <epcis file> <actor> <out dir>
import fs from 'node:fs';
import path from 'node:path';
import { audit, launch, newReport, signIn, watch } from './lib.mjs';

const [base, keystore, password, gtin, uri, forged, epcisFile, actor, out] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });
const report = newReport();
const browser = await launch();
const verdict = async (page) => {
  await page.waitForSelector('#verify-result p', { timeout: 60000 });
  return page.textContent('#verify-result');
};
const only = (p, ev) => p.waitForFunction((e) => {  // the search answered: every row is that event
  const rows = [...document.querySelectorAll('#records tbody tr')];
  return rows.length > 0 && rows.every((tr) => tr.cells[3]?.querySelector('[data-event]')?.dataset.event === e);
}, ev, { timeout: 60000 });
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  watch(page, report);
  await signIn(page, base, keystore, password, 'en', /\/console\/auditor/);
  await page.waitForSelector('#records tbody tr');
  await page.waitForSelector('#recon tbody tr button');
  await audit(page, 'auditor-desktop-en', report, out);
  // on-chain records of one product's batches, then one of them followed to its transaction
  await page.selectOption('#explorer-kind', 'batches');
  await page.waitForSelector('#explorer-event optgroup', { state: 'attached', timeout: 60000 });
  // the events to pick from: the kind's events of the deployment's contracts, grouped by contract
  report.event_choices = await page.evaluate(() => [...document.querySelectorAll('#explorer-event optgroup')]
    .map((g) => `${g.label}: ${[...g.children].map((o) => o.value).join(' ')}`));
  await page.selectOption('#explorer-event', 'BatchRegistered');
  await page.fill('#explorer-subject', gtin);
  await page.click('#explorer-form button');
  await only(page, 'BatchRegistered');
  report.records = await page.textContent('#records tbody');
  report.records_status = await page.textContent('#explorer-status');
  report.records_events = await page.evaluate(() => [...document.querySelectorAll('#records tbody tr')].map((tr) => `${tr.cells[3].textContent} = ${tr.cells[3].querySelector('[data-event]')?.dataset.event}`));
  // deposits decoded: the merchant by its member name, amounts in yuan (the ABI counts fen)
  await page.selectOption('#explorer-kind', 'deposits');
  await page.selectOption('#explorer-event', 'Deposited');
  await page.fill('#explorer-subject', '');
  await page.click('#explorer-form button');
  await only(page, 'Deposited');
  report.deposit_args = await page.textContent('#records tbody tr:first-child td:nth-child(5)');
  // a duration in days and hours: the settlement's return window, set when it was deployed
  await page.selectOption('#explorer-kind', '');
  await page.selectOption('#explorer-event', 'ReturnWindowSet');
  await page.click('#explorer-form button');
  await only(page, 'ReturnWindowSet');
  report.window_args = await page.textContent('#records tbody tr:first-child td:nth-child(5)');
  await page.selectOption('#explorer-kind', 'batches');
  await page.selectOption('#explorer-event', 'BatchRegistered');
  await page.fill('#explorer-subject', gtin);
  await page.click('#explorer-form button');
  await only(page, 'BatchRegistered');
  const row = page.locator('#records tbody tr', { has: page.locator('[data-event="BatchRegistered"]') }).first();
  const txLink = await row.locator('td:nth-child(2) a').getAttribute('href');
  await page.goto(new URL(txLink, base).href);  // a link of its own: the transaction's page
  await page.waitForSelector('#chain-detail dl');
  report.tx_detail = await page.textContent('#chain-detail');
  await page.goto(new URL(await page.locator('#chain-detail dd a').first().getAttribute('href'), base).href);
  await page.waitForFunction(() => /Block/.test(document.querySelector('#chain-detail h3')?.textContent || ''));
  report.block_detail = await page.textContent('#chain-detail');
  // a code and an EPCIS document verified against the chain, every check shown
  await page.fill('#verify-uri', uri);
  await page.press('#verify-uri', 'Enter');
  report.code_verdict = await verdict(page);
  await page.evaluate(() => { document.querySelector('#verify-result').replaceChildren(); });
  await page.fill('#verify-uri', forged);
  await page.click('#verify-code-form button');
  report.forged_verdict = await verdict(page);
  await page.evaluate(() => { document.querySelector('#verify-result').replaceChildren(); });
  fs.writeFileSync(path.join(out, 'notes.txt'), 'received 4 kg');  // not JSON: said so in words
  await page.setInputFiles('#verify-file', path.join(out, 'notes.txt'));
  await page.click('#verify-doc-form button');
  report.not_json_verdict = await verdict(page);
  await page.evaluate(() => { document.querySelector('#verify-result').replaceChildren(); });
  await page.setInputFiles('#verify-file', epcisFile);
  await page.click('#verify-doc-form button');
  report.epcis_verdict = await verdict(page);
  // the run with a break
  await page.click('#recon tbody tr:first-child button:not(.signoff)');
  await page.waitForSelector('#breaks tbody tr');
  report.breaks = await page.textContent('#breaks tbody');
  report.recon_row = await page.textContent('#recon tbody tr:first-child');
  // the run's report, read in the console (fetched with the session's token), and the P1 filter
  await page.click('#run-breaks button:has-text("Read the report")');
  await page.waitForSelector('#run-report dl', { timeout: 30000 });
  report.run_report = await page.textContent('#run-report');
  await page.selectOption('#breaks-status', 'resolved');
  await page.click('#breaks-filter button[type=submit]');
  await page.waitForFunction(() => !/\+7 fen/.test(document.querySelector('#breaks tbody').textContent));
  report.breaks_resolved = await page.textContent('#breaks tbody');
  // the audit log of one actor
  await page.fill('#audit-actor', actor);
  await page.click('#audit-filter button');
  const shortActor = `${actor.slice(0, 6)}…${actor.slice(-4)}`;  // the log shows addresses shortened
  await page.waitForFunction((a) => [...document.querySelectorAll('#audit tbody tr')].every((tr) => tr.textContent.includes(a)),
    shortActor, { timeout: 30000 });
  report.audit_rows = await page.locator('#audit tbody tr').count();
  await audit(page, 'auditor-verified-desktop-en', report, out);
  const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true })).newPage();
  watch(phone, report);
  await signIn(phone, base, keystore, password, 'zh', /\/console\/auditor/);
  await phone.waitForSelector('#records tbody tr');
  await audit(phone, 'auditor-phone-zh', report, out);
  report.phone_overflow = await phone.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
} catch (err) {
  report.errors.push(String(err && err.stack || err));
} finally {
  await browser.close();
  process.stdout.write(JSON.stringify(report));
}
