// A merchant's devices in the console, in Debian's chromium: the device list (GIAI, status, last
// seen) and the cold-chain alarms about its products; revoking a device asks for a reason, then
// the revocation (a DeviceRegistry transaction) is shown decoded and signed in the page with the
// keystore's key. Prints a JSON report; screenshots go to the out directory.
// node tests/browser/devices_journey.mjs <base url> <keystore file> <password> <giai> <out dir>
import fs from 'node:fs';
import { agreeToSignatures, audit, launch, newReport, signIn, watch } from './lib.mjs';

const [base, keystore, password, giai, out] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });
const report = newReport();
const browser = await launch();
try {
  const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  watch(page, report);
  agreeToSignatures(page, report);
  await signIn(page, base, keystore, password, 'en', /\/console\/merchant/);
  const row = `#devices tbody tr:has-text("${giai}")`;
  await page.waitForSelector(row, { timeout: 60000 });
  await page.waitForSelector('#alarms tbody tr:not(:has(td[colspan]))', { timeout: 60000 });
  report.device_row = await page.textContent(row);
  report.alarm_row = await page.textContent('#alarms tbody tr');
  report.attention = await page.textContent('#attention-list');
  await page.locator('#task-devices').scrollIntoViewIfNeeded();
  await audit(page, 'merchant-devices-phone-en', report, out);
  const revoke = `button[aria-label="Revoke ${giai}"]`;
  await page.click(revoke);  // no reason given: refused in the page, nothing sent
  report.no_reason = await page.textContent('#devices-status');
  await page.fill('#devices-reason', 'lost in transit');
  await page.click(revoke);
  await page.waitForSelector('#unlock-form:not([hidden])', { timeout: 60000 });
  await page.fill('#unlock-password', password);
  await page.press('#unlock-password', 'Enter');
  await page.waitForFunction((r) => /Done|Error/.test(document.querySelector('#devices-status').textContent)
    && !document.querySelector(r), revoke, { timeout: 90000 }).catch(() => {});
  report.status = await page.textContent('#devices-status');
  report.device_row_after = await page.textContent(row);
} catch (err) {
  report.errors.push(String(err && err.stack || err));
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
