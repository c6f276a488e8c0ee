// The auditor signs a reconciliation run off; an operator whose session still says "auditor" is told
// in Chinese that its role may not; two arbiters rule on a case from the list of cases waiting, the
// first signature collected by the service for the second; the carrier confirms a delivery. Each on a
// 390×844 phone in Chinese or a desktop in English, as a person sees it (no horizontal overflow, no
// English on a Chinese page outside user data), every signature made in the page with its own key.
// Then the lists people live with: a disputed order ruled from the arbiter's list; the carrier's delivery
// event picked from a list; codes issued short by default, earlier issues downloaded again; the
// counterfeit reports in the merchant's and the auditor's console; the scan page's merchant by name.
// node tests/browser/roles_journey.mjs <base url> <keys dir> <password> <run id> <case id> <order id> <event id> <scan uri> <disputed order> <gtin> <out dir>
// (keys dir: auditor.json, platform.json, arbiter.json, second.json, logistics.json, merchant.json, inspector.json)
import fs from 'node:fs';
import path from 'node:path';
import { agreeToSignatures, audit, launch, look, newReport, signIn, watch } from './lib.mjs';

const [base, keys, password, runId, caseId, orderId, eventId, scanUri, disputed, gtin, handover, out] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });
const report = newReport();
report.screens = {};
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const DESKTOP = { viewport: { width: 1280, height: 800 } };
const ALLOW = ['EPCIS', 'PACT', 'CSV', 'GTIN', 'API', 'JSON', 'LD', 'XML', 'PDF', 'ledger', 'verify', 'Merkle', 'English'];
const key = (name) => path.join(keys, `${name}.json`);

async function page(browser, options) {
  const p = await (await browser.newContext(options)).newPage();
  watch(p, report);
  return p;
}

async function screen(p, name, lang) {
  report.screens[name] = await look(p, lang, ALLOW);
  await audit(p, name, report, out);
}

async function password_(p, status) {
  // the password dialog, or the page's own word of why there is nothing to sign
  await p.waitForFunction((s) => !document.querySelector('#unlock-form').hidden
    || document.querySelector(`#${s}`).classList.contains('error') || document.querySelector('#sign-status').textContent,
  status, { timeout: 60000 });
  if (await p.isHidden('#unlock-form')) {
    throw new Error(`no password asked: ${await p.textContent(`#${status}`)} ${await p.textContent('#sign-status')}`);
  }
  report.unlock ??= {};
  report.unlock[await p.evaluate(() => document.body.dataset.page)] = await p.textContent('#unlock-summary');
  await p.fill('#unlock-password', password);
  await p.press('#unlock-password', 'Enter');
}

const text = (p, sel) => p.textContent(sel);
const until = (p, sel, re, timeout = 90000) => p.waitForFunction(([s, r]) => new RegExp(r).test(document.querySelector(s)?.textContent || ''),
  [sel, re.source], { timeout });

const browser = await launch();
try {
  // 1. the auditor signs run #runId off, on a phone, in Chinese
  const a = await page(browser, PHONE);
  await signIn(a, base, key('auditor'), password, 'zh', /\/console\/auditor/);
  await a.waitForSelector(`#recon button.signoff[data-run="${runId}"]`, { timeout: 60000 });
  await a.waitForFunction(() => !/读取|Loading/.test(document.querySelector('#attention-list').textContent), null, { timeout: 60000 });
  report.auditor_attention = await text(a, '#attention-list');
  await a.fill('#signoff-note', '已核对，差异已记录');
  await a.click(`#recon button.signoff[data-run="${runId}"]`);
  await password_(a, 'recon-status');
  await until(a, '#recon-status', /已签署|出错/);
  report.signoff_status = await text(a, '#recon-status');
  await a.waitForFunction((id) => ![...document.querySelectorAll('#recon button.signoff')].some((b) => b.dataset.run === id), runId);
  report.signed_row_zh = await a.evaluate((id) => [...document.querySelectorAll('#recon tbody tr')]
    .find((tr) => tr.cells[0].textContent === id)?.textContent, runId);
  // the audit log, newest first: the sign-off on top; the runs chart with its axes
  await a.click('#audit-filter button[type=submit]');
  await a.waitForFunction(() => /signoff/.test(document.querySelector('#audit tbody tr')?.textContent || ''), null, { timeout: 30000 });
  report.audit_first = await text(a, '#audit tbody tr');
  report.recon_chart = await a.evaluate(() => [...document.querySelectorAll('#recon-chart text')].map((t) => t.textContent));
  await screen(a, 'signoff-phone-zh', 'zh');
  await a.context().close();
  // ... and the run reads as signed off in English on a desktop
  const a2 = await page(browser, DESKTOP);
  await signIn(a2, base, key('auditor'), password, 'en', /\/console\/auditor/);
  await a2.waitForFunction(() => /Signed off by/.test(document.querySelector('#recon').textContent), null, { timeout: 60000 });
  report.signed_row_en = await a2.evaluate((id) => [...document.querySelectorAll('#recon tbody tr')]
    .find((tr) => tr.cells[0].textContent === id)?.textContent, runId);
  await a2.context().close();

  // 2. an operator (it reads runs) whose session still lists "auditor", as after a revoked role:
  // the page offers the sign-off, the API refuses it, the page says why in Chinese
  const o = await page(browser, PHONE);
  await signIn(o, base, key('platform'), password, 'zh', /\/console\/operator/);
  await o.evaluate(() => sessionStorage.setItem('tl_roles', JSON.stringify([...JSON.parse(sessionStorage.getItem('tl_roles')), 'auditor'])));
  await o.goto(`${base}/console/auditor?lang=zh`);
  await o.waitForSelector('#recon button.signoff', { timeout: 60000 });
  // tapped again if nothing came of it: once in CI (two cores, three test workers) the tap reached no
  // handler, the server saw no request at all, and the page waited 90 s for an answer never asked for
  for (let tap = 1; ; tap++) {
    await o.click('#recon button.signoff');
    try { await until(o, '#recon-status', /出错|错误/, 40000); break; } catch (err) { if (tap === 3) throw err; }
  }
  report.forbidden_zh = await text(o, '#recon-status');
  await o.context().close();

  // 3. the second arbiter (desktop, English) rules from the list of cases waiting and signs
  const s = await page(browser, DESKTOP);
  await signIn(s, base, key('second'), password, 'en', /\/console\/arbiter/);
  await s.waitForSelector(`#cases button[aria-label$="#${caseId}"]`, { timeout: 60000 });
  report.cases_en = await text(s, '#cases');
  await s.click(`#cases button[aria-label$="#${caseId}"]`);
  await s.waitForSelector('#rule-sign:not([hidden])', { timeout: 120000 }).catch(async (err) => {  // say what the page said
    const said = await s.textContent('#rule-status').catch(() => '?');
    throw new Error(`${err.message}; the page at ${s.url()} said "${said}"`);
  });
  await s.click('#rule-sign-mine');
  await password_(s, 'rule-status');
  await until(s, '#rule-status', /signature|Error/);
  report.second_status = await text(s, '#rule-status');
  await screen(s, 'cases-desktop-en', 'en');
  await s.context().close();
  // ... the opener (phone, Chinese) finds that signature collected, adds its own and submits
  const f = await page(browser, PHONE);
  agreeToSignatures(f, report);
  await signIn(f, base, key('arbiter'), password, 'zh', /\/console\/arbiter/);
  await f.waitForSelector(`#cases button[aria-label$="#${caseId}"]`, { timeout: 60000 });
  await f.waitForFunction(() => !/读取|Loading/.test(document.querySelector('#attention-list').textContent), null, { timeout: 60000 });
  report.arbiter_attention = await text(f, '#attention-list');
  await screen(f, 'cases-phone-zh', 'zh');
  await f.click(`#cases button[aria-label$="#${caseId}"]`);
  await f.waitForSelector('#rule-sign:not([hidden])', { timeout: 60000 });
  report.collected_zh = await text(f, '#rule-case-figures');
  report.prefilled = (await f.inputValue('#rule-signatures')).trim().split(/\s+/).filter(Boolean).length;
  await f.click('#rule-sign-mine');
  await password_(f, 'rule-status');
  await f.waitForFunction(() => document.querySelector('#rule-signatures').value.trim().split(/\s+/).length >= 2, null, { timeout: 60000 });
  await f.click('#rule-submit');
  await until(f, '#rule-status', /完成|出错/);
  report.ruling_status = await text(f, '#rule-status');
  report.ruling_calls = report.signed_calls;  // the carrier's page starts a list of its own
  await f.waitForFunction((id) => !document.querySelector(`#cases button[aria-label$="#${id}"]`), caseId, { timeout: 60000 });
  report.screens['ruled-phone-zh'] = await look(f, 'zh', ALLOW);
  // ... then a disputed order from the list of orders waiting for a ruling: the refund is what
  // remains unless typed, signed in the page (one signature: the order is under the threshold)
  await f.waitForSelector(`#disputes button[aria-label$="${disputed}"]`, { timeout: 60000 });
  report.disputes_zh = await text(f, '#disputes');
  report.arbiter_attention_after = await text(f, '#attention-list');
  const before = report.signed_calls.length;
  await f.click(`#disputes button[aria-label$="${disputed}"]`);
  await f.waitForSelector('#oruling-sign:not([hidden])', { timeout: 60000 });
  report.oruling_figures = await text(f, '#oruling-figures');
  await f.click('#oruling-sign-mine');  // the key is unlocked already in this page: no second password
  await f.waitForFunction(() => document.querySelector('#oruling-signatures').value.trim().length >= 132, null, { timeout: 60000 });
  await f.click('#oruling-submit');
  await until(f, '#oruling-status', /已裁决|出错/);
  report.oruling_status = await text(f, '#oruling-status');
  report.oruling_calls = report.signed_calls.slice(before);
  await f.waitForFunction((id) => !document.querySelector(`#disputes button[aria-label$="${id}"]`), disputed, { timeout: 60000 });
  await screen(f, 'order-ruled-phone-zh', 'zh');
  await f.context().close();

  // 4. the carrier confirms the delivery of its order, on a phone in Chinese
  const c = await page(browser, PHONE);
  agreeToSignatures(c, report);
  await signIn(c, base, key('logistics'), password, 'zh', /\/console\/carrier/);
  await c.waitForSelector(`#work button[aria-label$="${orderId}"]`, { timeout: 60000 });
  await screen(c, 'carrier-phone-zh', 'zh');
  await c.click(`#work button[aria-label$="${orderId}"]`);
  report.deliver_order = await c.inputValue('#deliver-order');
  // the delivery event picked from the list of events waiting (not typed)
  const digest = eventId.split(';')[1].slice(0, 64);
  await c.waitForFunction((d) => [...document.querySelectorAll('#deliver-event option')].some((o) => o.value.includes(d)), digest, { timeout: 60000 });
  report.deliver_options = await c.evaluate(() => [...document.querySelectorAll('#deliver-event option')].map((o) => o.textContent));
  const value = await c.evaluate((d) => [...document.querySelectorAll('#deliver-event option')].find((o) => o.value.includes(d)).value, digest);
  await c.selectOption('#deliver-event', value);
  await c.fill('#deliver-code', handover);  // read from the recipient's "my purchases" page at hand-over
  await c.click('#deliver-form button[type=submit]');
  await password_(c, 'deliver-status');
  await until(c, '#deliver-status', /已确认送达|出错/);
  report.deliver_status = await text(c, '#deliver-status');
  report.delivery_calls = report.signed_calls;  // the merchant's page below starts a list of its own
  report.screens['delivered-phone-zh'] = await look(c, 'zh', ALLOW);
  await c.context().close();
  const c2 = await page(browser, DESKTOP);
  await signIn(c2, base, key('logistics'), password, 'en', /\/console\/carrier/);
  await c2.waitForFunction((id) => [...document.querySelectorAll('#work tbody tr')].some((tr) => tr.textContent.includes(id)), orderId, { timeout: 60000 });
  report.carrier_row_en = await c2.evaluate((id) => [...document.querySelectorAll('#work tbody tr')]
    .find((tr) => tr.textContent.includes(id))?.textContent, orderId);
  await screen(c2, 'carrier-desktop-en', 'en');
  await c2.context().close();

  // 5. the merchant's orders: searched, sorted, exported, one read in detail; its scans chart by day
  const m = await page(browser, PHONE);
  await signIn(m, base, key('merchant'), password, 'zh', /\/console\/merchant/);
  await m.waitForSelector('#scans-chart svg', { timeout: 60000 });
  report.scans_chart = await m.evaluate(() => {  // on the phone: each label's height and whether it fits the chart
    const box = document.querySelector('#scans-chart svg').getBoundingClientRect();
    const texts = [...document.querySelectorAll('#scans-chart text')];
    return { bars: document.querySelectorAll('#scans-chart rect').length, ticks: texts.map((t) => t.textContent),
      heights: texts.map((t) => Math.round(t.getBoundingClientRect().height)),
      outside: texts.filter((t) => { const r = t.getBoundingClientRect();
        return r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1; }).map((t) => t.textContent) };
  });
  await m.fill('#orders-q', 'DD-');
  await m.selectOption('#orders-sort', 'amount_high');
  await m.click('#orders-filter button[type=submit]');
  await m.waitForFunction(() => document.querySelectorAll('#orders tbody tr').length === 2
    && /DD-2026-0002/.test(document.querySelector('#orders tbody tr').textContent), null, { timeout: 30000 });
  report.orders_rows = await m.evaluate(() => [...document.querySelectorAll('#orders tbody tr')].map((tr) => tr.cells[0].textContent));
  const [download] = await Promise.all([m.waitForEvent('download'), m.click('#orders-csv')]);
  report.orders_csv = fs.readFileSync(await download.path(), 'utf8');
  await m.click('#orders tbody tr:first-child button.link');
  await m.waitForFunction(() => document.querySelector('#order-figures dd')
    && /DD-2026-0002/.test(document.querySelector('#order-detail').textContent), null, { timeout: 30000 });
  report.order_detail = await text(m, '#order-detail');
  await screen(m, 'orders-phone-zh', 'zh');
  await m.context().close();

  // 6. a shopper scans a code of a recalled batch: what to do, and a counterfeit report sent from the page
  report.scan = {};
  for (const [lang, options] of [['zh', PHONE], ['en', DESKTOP]]) {
    const p = await page(browser, options);
    await p.goto(`${scanUri}${scanUri.includes('?') ? '&' : '?'}lang=${lang}`);
    report.scan[lang] = { advice: await text(p, '#recall-advice'), chain: await text(p, '#supply-chain').catch(() => '') };
    report.screens[`scan-recalled-${lang === "zh" ? "phone" : "desktop"}-${lang}`] = await look(p, lang, [...ALLOW, 'https', 'id', 'gs', 'org']);
    await p.fill('#report-message', lang === 'zh' ? '防伪标签可以整片揭下' : 'the seal peels off in one piece');
    await p.fill('#report-place', lang === 'zh' ? '上海某超市' : 'a market in Shanghai');
    await Promise.all([p.waitForURL(/\/v1\/scan\/reports/), p.click('#report-form button[type=submit]')]);
    report.scan[lang].thanks = await text(p, '#report-result');
    report.screens[`scan-reported-${lang === "zh" ? "phone" : "desktop"}-${lang}`] = await look(p, lang, ALLOW);
    await p.context().close();
  }

  // 7. the merchant's codes: short by default with its trade-off; issued, then the earlier issue's
  // files downloaded again; the shoppers' counterfeit reports newest first, in Beijing time
  const m2 = await page(browser, PHONE);
  agreeToSignatures(m2, report);
  await signIn(m2, base, key('merchant'), password, 'zh', /\/console\/merchant/);
  await m2.waitForSelector('#issues tbody tr td', { timeout: 60000 });
  report.codes_default = await m2.inputValue('#codes-short');
  report.codes_tradeoff = await text(m2, '#codes-tradeoff');
  await m2.fill('#codes-gtin', gtin); await m2.fill('#codes-lot', 'R-2'); await m2.fill('#codes-count', '2');
  await m2.click('#codes-form button[type=submit]');
  await password_(m2, 'codes-status');
  await until(m2, '#codes-status', /已发放|出错/);
  report.codes_status = await text(m2, '#codes-status');
  await m2.fill('#issues-gtin', gtin); await m2.fill('#issues-lot', 'R-2');
  await m2.click('#issues-filter button[type=submit]');
  // the filtered list, not the one drawn before it (which may hold two rows of other lots)
  await m2.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#issues tbody tr')];
    return rows.length === 2 && rows.every((tr) => tr.textContent.includes('/ R-2'));
  }, null, { timeout: 30000 });
  report.issues_rows = await m2.evaluate(() => [...document.querySelectorAll('#issues tbody tr')].map((tr) => tr.textContent));
  const older = m2.locator('#issues tbody tr').nth(1);
  const [csv] = await Promise.all([m2.waitForEvent('download'), older.locator('button').nth(1).click()]);
  report.issue_csv = fs.readFileSync(await csv.path(), 'utf8');
  const [pdf] = await Promise.all([m2.waitForEvent('download'), older.locator('button').nth(0).click()]);
  report.issue_pdf_head = fs.readFileSync(await pdf.path()).subarray(0, 5).toString('latin1');
  await m2.waitForFunction(() => document.querySelectorAll('#reports tbody tr td[data-label]').length > 0, null, { timeout: 30000 });
  report.reports_zh = await m2.evaluate(() => [...document.querySelectorAll('#reports tbody tr')].map((tr) => tr.textContent));
  report.merchant_attention = await text(m2, '#attention-list');
  await screen(m2, 'codes-reports-phone-zh', 'zh');
  await m2.context().close();
  const a3 = await page(browser, DESKTOP);
  await signIn(a3, base, key('auditor'), password, 'en', /\/console\/auditor/);
  await a3.waitForFunction(() => document.querySelectorAll('#reports tbody tr td[data-label]').length > 0, null, { timeout: 30000 });
  report.reports_en = await a3.evaluate(() => [...document.querySelectorAll('#reports tbody tr')].map((tr) => tr.textContent));
  await a3.context().close();
  // 8. the regulator (an inspector) on a phone: the shoppers' reports on its landing, and a batch
  // recalled with its own key, the signing dialog naming the batch
  const r = await page(browser, PHONE);
  agreeToSignatures(r, report);
  await signIn(r, base, key('inspector'), password, 'zh', /\/console\/inspector/);
  await r.waitForFunction(() => document.querySelectorAll('#reports tbody tr td[data-label]').length > 0, null, { timeout: 30000 });
  report.inspector_attention = await text(r, '#attention-list');
  report.inspector_reports = await r.locator('#reports tbody tr').count();
  await screen(r, 'inspector-phone-zh', 'zh');
  await r.fill('#recall-gtin', gtin); await r.fill('#recall-lot', 'R-2'); await r.fill('#recall-reason', '抽检不合格');
  const calls = report.signed_summaries.length;
  await r.click('#recall-form button[type=submit]');
  await password_(r, 'recall-status');
  await until(r, '#recall-status', /完成|出错/);
  report.inspector_recall = { status: await text(r, '#recall-status'), summary: report.signed_summaries[calls] };
  await r.context().close();
  // the merchant hears of the inspector's recall first thing on its page, with the reason
  const m3 = await page(browser, PHONE);
  await signIn(m3, base, key('merchant'), password, 'zh', /\/console\/merchant/);
  await m3.waitForFunction(() => /召回/.test(document.querySelector('#attention-list').textContent), null, { timeout: 30000 })
    .catch(() => {});
  report.merchant_attention_recall = await text(m3, '#attention-list');
  await m3.context().close();
  // the scan page in Chinese: the merchant by name, Chinese punctuation beside Chinese text
  const sp = await page(browser, PHONE);
  await sp.goto(`${scanUri}${scanUri.includes('?') ? '&' : '?'}lang=zh`);
  report.scan_merchant = await text(sp, '#merchant-name');
  report.scan_punctuation = await sp.evaluate(() => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT); const found = [];
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (n.parentElement.closest('code, script, style, [translate="no"]')) continue;
      for (const m of n.textContent.matchAll(/[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]\s*[,.:;()!?]|[,.:;()!?]\s*[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]/g)) found.push(m[0]);
    }
    return found;
  });
  report.scan_times = await sp.evaluate(() => [...document.querySelectorAll('time')].map((t) => t.textContent));
  await sp.context().close();
} catch (err) {
  report.errors.push(String(err && err.stack || err));
} finally {
  await browser.close();
  process.stdout.write(JSON.stringify(report));
}
