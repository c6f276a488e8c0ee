// A merchant with an injected EIP-1193 wallet: signs in with `personal_sign`, then registers a
// product in the page, the wallet sending the prepared transaction itself (`eth_sendTransaction`)
// and the page handing the API its hash. The wallet here is the member's key held in Node (ethers,
// on the same chain node), exposed to the page as `window.ethereum`, as a browser extension would be.
// node tests/browser/wallet_journey.mjs <base url> <node url> <private key> <gtin> <out dir>
import fs from 'node:fs';
import { ethers } from 'ethers';
import { agreeToSignatures, audit, launch, newReport, watch } from './lib.mjs';

const [base, nodeUrl, privateKey, gtin, out] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });
const report = newReport();
report.wallet_calls = [];
const wallet = new ethers.Wallet(privateKey, new ethers.JsonRpcProvider(nodeUrl, undefined, { staticNetwork: true }));
const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.exposeFunction('__walletRequest', async ({ method, params }) => {
    report.wallet_calls.push(method);
    if (method === 'eth_requestAccounts' || method === 'eth_accounts') return [wallet.address];
    if (method === 'personal_sign') return wallet.signMessage(ethers.getBytes(params[0]));
    if (method === 'eth_sendTransaction') {
      const [tx] = params;
      const sent = await wallet.sendTransaction({ to: tx.to, data: tx.data, value: BigInt(tx.value), gasLimit: BigInt(tx.gas) });
      return sent.hash;
    }
    throw new Error(`unsupported ${method}`);
  });
  await context.addInitScript(() => {
    window.ethereum = { isMetaMask: false, request: (args) => window.__walletRequest(args) };
  });
  const page = await context.newPage();
  report.product_posts = 0;  // a double tap must not send a write twice
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/v1/products')) report.product_posts += 1; });
  watch(page, report);
  agreeToSignatures(page, report);
  await page.goto(`${base}/console/?lang=en`);
  await page.click('#wallet');
  await page.waitForURL(/\/console\/merchant/, { timeout: 60000 });
  await page.waitForSelector('#deposit dd');
  report.signed_in_as = await page.textContent('#who');
  // an API that lies about where the call goes: the page finds no contract of the deployment there
  await page.route('**/v1/products', async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    if (body.transaction) body.transaction.to = wallet.address;
    await route.fulfill({ response, json: body });
  });
  await page.fill('#product-gtin', gtin);
  await page.fill('#product-name', 'Wallet tea');
  await page.click('#product-form button');
  await page.waitForSelector('#sign-confirm:not([hidden]) #sign-status.error', { timeout: 60000 });
  report.refused = await page.textContent('#sign-status');
  report.sent_when_refused = report.wallet_calls.includes('eth_sendTransaction');
  await page.click('#sign-cancel');  // the refusal read, the dialog closed
  await page.unroute('**/v1/products');
  await page.evaluate(() => { document.querySelector('#products-status').textContent = ''; });
  await page.fill('#product-gtin', gtin);
  await page.fill('#product-name', 'Wallet tea');
  await page.click('#product-form button', { clickCount: 2 });  // tapped twice: one request, one signature
  await page.waitForFunction(() => document.querySelector('#products-status').textContent, null, { timeout: 60000 });
  report.product_status = await page.textContent('#products-status');
  await audit(page, 'merchant-wallet-desktop-en', report, out);
} catch (err) {
  report.errors.push(String(err && err.stack || err));
} finally {
  await browser.close();
  process.stdout.write(JSON.stringify(report));
}
