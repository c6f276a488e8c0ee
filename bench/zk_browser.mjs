// Groth16 proofs of the purchase circuit in Debian's chromium: reads {inputs, wasm, zkey} on stdin,
// serves snarkjs's browser bundle and the circuit's files from a local server of its own, proves
// each input in the page and prints {"seconds": [...]} (each proof's wall time in the page).
import fs from 'node:fs';
import http from 'node:http';
import { chromium } from 'playwright-core';

const req = JSON.parse(fs.readFileSync(0, 'utf8'));
const files = {
  '/snarkjs.min.js': ['node_modules/snarkjs/build/snarkjs.min.js', 'text/javascript'],
  '/purchase.wasm': [req.wasm, 'application/wasm'],
  '/purchase.zkey': [req.zkey, 'application/octet-stream'],
  '/': [null, 'text/html'],
};
const server = http.createServer((q, r) => {
  const f = files[q.url];
  if (!f) { r.writeHead(404); r.end(); return; }
  r.writeHead(200, { 'content-type': f[1] });
  r.end(f[0] ? fs.readFileSync(f[0]) : '<!doctype html><title>zk</title><script src="/snarkjs.min.js"></script>');
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage();
  await page.goto(base + '/');
  const seconds = [];
  for (const input of req.inputs) {
    seconds.push(await page.evaluate(async (inp) => {
      const t0 = performance.now();
      await window.snarkjs.groth16.fullProve(inp, '/purchase.wasm', '/purchase.zkey');
      return (performance.now() - t0) / 1000;
    }, input));
  }
  process.stdout.write(JSON.stringify({ seconds }));
} finally {
  await browser.close();
  server.close();
}
