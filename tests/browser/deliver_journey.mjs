// A carrier delivers on a 390×844 phone, in the page's language, as a person does: with no delivery
// event captured yet (the page says how one gets there), with the wrong one (another member's event,
// another order's event, a mistyped order: each refusal said in words with what to do), then the right one.
// node tests/browser/deliver_journey.mjs <base url> <keystore> <password> <lang> <steps json> <out dir>
// steps: [{name, order, pick?: event digest, typed?: order id typed instead}]
import fs from 'node:fs';
import { agreeToSignatures, audit, launch, look, newReport, signIn, watch } from './lib.mjs';

const [base, keystore, password, lang, stepsJson, out] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });
const report = newReport();
report.screens = {};
report.said = {};
const ALLOW = ['EPCIS', 'GS1'];
const browser = await launch();
try {
  const c = await (await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })).newPage();
  watch(c, report);
  agreeToSignatures(c, report);
  await signIn(c, base, keystore, password, lang, /\/console\/carrier/);
  await c.waitForFunction(() => !/读取|Loading/.test(document.querySelector('#deliver-event').textContent), null, { timeout: 60000 });
  await c.waitForSelector('#work button', { timeout: 60000 });
  report.hint = await c.isVisible('#deliver-event-hint') ? await c.textContent('#deliver-event-hint') : null;
  // a refusal by a known code keeps the API's detail when it says more (the Chinese page dropped it)
  report.described = await c.evaluate(() => import('/console/static/common.js').then(({ describe }) => [
    describe({ error: 'not_found', detail: 'order XX-1 not found' }), describe({ error: 'conflict', detail: '' })]));
  for (const step of JSON.parse(stepsJson)) {
    await c.click(`#work button[aria-label$="${step.order}"]`);
    if (step.typed) await c.fill('#deliver-order', step.typed);
    if (step.pick) {
      await c.selectOption('#deliver-event', await c.evaluate((d) => [...document.querySelectorAll('#deliver-event option')]
        .find((o) => o.value.includes(d)).value, step.pick));
    }
    report.chosen ??= {};  // the chosen event as the closed list shows it on the phone
    report.chosen[step.name] = await c.evaluate(() => { const s = document.querySelector('#deliver-event');
      return s.selectedIndex > 0 ? s.options[s.selectedIndex].textContent : ''; });
    await c.evaluate(() => { document.querySelector('#deliver-status').textContent = ''; });
    await c.click('#deliver-form button[type=submit]');
    await c.waitForFunction(() => document.querySelector('#deliver-status').textContent || !document.querySelector('#unlock-form').hidden,
      null, { timeout: 90000 });
    if (await c.isVisible('#unlock-form')) {  // the right event: signed with the carrier's own key
      await c.fill('#unlock-password', password);
      await c.press('#unlock-password', 'Enter');
      await c.waitForFunction(() => document.querySelector('#deliver-status').textContent, null, { timeout: 90000 });
    }
    report.said[step.name] = await c.textContent('#deliver-status');
    const name = `deliver-${step.name}-phone-${lang}`;
    report.screens[name] = await look(c, lang, ALLOW);
    await audit(c, name, report, out);
  }
} catch (err) {
  report.errors.push(String(err && err.stack || err));
} finally {
  await browser.close();
  process.stdout.write(JSON.stringify(report));
}
