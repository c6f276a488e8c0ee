// A shopper on a phone, in Debian's chromium (tests/python/test_zk_purchases.py drives it):
//   checkout BASE GTIN LOT OUT: the checkout module makes a secret in this browser and hands out only
//     its holder, commitment and a receipt link (secret in the fragment); prints {holder, commitment, receipt, batch}
//   review RECEIPT OUT: a fresh browser opens the receipt link on "my purchases", proves the purchase
//     and posts a review through the page's form; prints {status, seconds, text}
//   claim RECEIPT PAYTO OUT: the same, then files a claim to address PAYTO through the claim form
//     (the amount is the batch's terms', filled in by the page); prints {status, seconds, line}
//   dispute RECEIPT PAYTO OUT: the same, then files a dispute for an award to PAYTO, and at once asks
//     for the award (refused: the case is open); prints {status, line, case, early: {status, line}}
//   collect RECEIPT CASE OUT: a fresh browser collects the award of case CASE; prints {status, line}
//   broken OUT: damaged receipt links are refused, nothing saved; prints {broken: [{said, kept}]}
//   decoy OUT: one purchase proved again and again over a tree served here (3 chunks, then grown to 5),
//     its leaf in chunk 2: the whole chunks each proof asked for; prints {decoy: {asked: [[chunk, ...]], kept}}
// Both: CSP violations, page errors and axe-core's serious findings in the report.
import fs from 'node:fs';
import { launch, newReport, watch, audit } from './lib.mjs';

const [base, mode, ...rest] = process.argv.slice(2);
const out = rest.pop();
fs.mkdirSync(out, { recursive: true });
const report = newReport();
// "my purchases" opened on a receipt link: the purchase listed, the secret gone from the address bar
async function openReceipt(page, receipt) {
  await page.goto(receipt);
  await page.waitForSelector('body[data-ready="1"] li.purchase', { timeout: 60000 });
  if (page.url().includes('#')) throw new Error('the secret stayed in the address bar');
}

// the purchase's `form` (review or claim) sent: proved in the page, then posted; its answer timed
async function send(page, form) {
  const t0 = Date.now();
  await page.click(`li.purchase form.${form} button`);
  await page.waitForSelector('li.purchase .status[data-status]', { timeout: 180000 });
  report.seconds = (Date.now() - t0) / 1000;
  report.status = await page.getAttribute('li.purchase .status', 'data-status');
  report.line = await page.textContent('li.purchase .status');
}

const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  watch(page, report);
  if (mode === 'checkout') {
    const [gtin, lot] = rest;
    await page.goto(`${base}/v1/purchases/mine`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
    const got = await page.evaluate(async ([g, l]) => {
      const r = await window.shopper.checkout(g, l);
      const saved = window.shopper.saved();
      return { ...r, batch: saved[0].batch, kept: saved.length };
    }, [gtin, lot]);
    // the secret stays here: only the holder, the commitment and the receipt leave the module
    if (got.kept !== 1 || got.receipt.split('#')[0].includes('s=')) throw new Error('secret outside the fragment');
    Object.assign(report, got);
    await audit(page, 'zk_mine_checkout', report, out);
  } else if (mode === 'claim') {
    const [receipt, payTo] = rest;
    await openReceipt(page, receipt);
    await page.click('li.purchase details.handover summary');  // the code the courier reads at hand-over
    report.handover = await page.textContent('li.purchase details.handover code');
    await page.locator('li.purchase details.handover img.qr').screenshot({ path: `${out}/handover-qr.png` });
    report.handover_qr = `${out}/handover-qr.png`;  // decoded by the test with zbar
    await page.waitForFunction(() => document.querySelector('li.purchase form.claim input[name=amount]').readOnly,
      null, { timeout: 60000 });  // the batch's one amount, filled in from its terms
    report.amount = await page.inputValue('li.purchase form.claim input[name=amount]');
    await page.fill('li.purchase form.claim input[name=pay_to]', payTo);
    await audit(page, 'zk_mine_claim', report, out);
    await send(page, 'claim');
  } else if (mode === 'dispute') {
    const [receipt, payTo] = rest;
    await openReceipt(page, receipt);
    await page.click('li.purchase details.disputes summary');
    await page.fill('li.purchase form.dispute textarea', '到货时已解冻变质 / arrived thawed and spoiled');
    await page.fill('li.purchase form.dispute input[name=pay_to]', payTo);
    await audit(page, 'zk_mine_dispute', report, out);
    await send(page, 'dispute');
    report.case = await page.inputValue('li.purchase form.collect input[name=case_id]');
    const filed = { status: report.status, line: report.line };
    await send(page, 'collect');
    report.early = { status: report.status, line: report.line };
    Object.assign(report, filed);
  } else if (mode === 'broken') {
    // receipt links cut short or damaged in copying (a GTIN cut, a wrong check digit, no secret)
    report.broken = [];
    for (const fragment of ['s=123&g=0690&l=X', 's=123&g=06901234567891&l=X', 'g=06901234567892&l=X']) {
      await page.goto(`${base}/v1/purchases/mine?lang=zh#${fragment}`);
      await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
      report.broken.push({ said: await page.textContent('.bad-receipt').catch(() => null),
        kept: await page.evaluate(() => window.shopper.saved().length) });
    }
  } else if (mode === 'decoy') {
    // the tree served by the page's own routes: every leaf 0 but the purchase's prefix at 2,500, so
    // each proof fetches what any prover fetches, then its chunk (2) and its decoy, and finds no path
    const commitment = (21888242871839275222246405745257275088548364400416034343698204186575808495617n - 7n).toString();
    const at = 2500;
    let size = 3072;
    report.decoy = { asked: [] };
    let asked = [];
    await page.route('**/v1/purchases/tree/**', (route) => {
      const path = new URL(route.request().url()).pathname;
      if (path.endsWith('/summary')) {
        const chunks = Math.ceil(size / 1024);
        return route.fulfill({ json: { size, chunk_bits: 10, chunk_roots: Array(chunks).fill('0'), upper: [], root: '0' } });
      }
      if (path.includes('/prefixes/')) {
        const body = Buffer.alloc(size * 4);
        body.writeUInt32BE(Number(BigInt(commitment) >> 224n), at * 4);
        return route.fulfill({ body, contentType: 'application/octet-stream' });
      }
      asked.push(Number(path.split('/').pop()));
      return route.fulfill({ body: Buffer.alloc(1024 * 32), contentType: 'application/octet-stream' });
    });
    await page.goto(`${base}/v1/purchases/mine`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
    await page.evaluate((c) => window.shopper.save({ commitment: c, batch: '1', secret: '1' }), commitment);
    for (let i = 0; i < 12; i++) {
      if (i === 8) size = 5120;  // the tree grew: the purchase keeps its decoy
      asked = [];
      await page.evaluate(async (c) => {
        const purchase = window.shopper.saved().find((p) => p.commitment === c);
        await window.shopper.prove(purchase, 'review', 1n).catch(() => null);  // no path in this tree: refused
      }, commitment);
      report.decoy.asked.push(asked);
    }
    report.decoy.kept = await page.evaluate((c) => window.shopper.saved().find((p) => p.commitment === c).decoy_chunk, commitment);
  } else if (mode === 'collect') {
    const [receipt, caseId] = rest;
    await openReceipt(page, receipt);
    await page.click('li.purchase details.disputes summary');
    await page.fill('li.purchase form.collect input[name=case_id]', caseId);
    await send(page, 'collect');
  } else {
    const [receipt] = rest;
    await openReceipt(page, receipt);
    await audit(page, 'zk_mine_receipt', report, out);
    report.text = '新鲜，如描述 / fresh, as described';
    await page.selectOption('li.purchase form.review select', '4');
    await page.fill('li.purchase form.review textarea', report.text);
    await send(page, 'review');
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
