// "My purchases": the purchases this browser holds secrets for (and one from a receipt link's
// fragment), each with a review, a claim and a dispute made by a proof in this browser, and the
// award of a dispute collected once arbiters decided it.
import qrcode from "./qrcode.mjs";
import * as shopper from "./shopper.js";

const $ = (sel) => document.querySelector(sel);
// money is integer fen everywhere but on the screen, where a person reads and types yuan
const yuan = (fen) => { const f = BigInt(fen); return `${f / 100n}.${String(f % 100n).padStart(2, "0")}`; };
function toFen(text) {
  const m = /^\s*(\d{1,13})(?:[.,](\d{1,2}))?\s*$/.exec(String(text));
  return m ? Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0")) : null;
}

function row(p) {
  const li = document.createElement("li");
  li.className = "purchase";
  li.dataset.commitment = p.commitment;
  li.innerHTML = `
    <p><span lang="zh">批次</span> / <span lang="en">Batch</span> <code class="batch"></code></p>
    <details class="handover"><summary><span lang="zh">交付码：签收时出示给快递员</span> /
      <span lang="en">Hand-over code: show it to the courier when you sign for the parcel</span></summary>
      <img class="qr" width="180" height="180" alt=""><code class="code"></code></details>
    <form class="review">
      <label><span lang="zh">评分</span> / <span lang="en">Rating</span>
        <select name="rating">${[5, 4, 3, 2, 1].map((r) => `<option>${r}</option>`).join("")}</select></label>
      <label><span lang="zh">评价</span> / <span lang="en">Review</span>
        <textarea name="text" maxlength="2000" rows="2"></textarea></label>
      <button type="submit"><span lang="zh">发表已验证评价</span> / <span lang="en">Post verified review</span></button>
    </form>
    <form class="claim">
      <label><span lang="zh">收款地址</span> / <span lang="en">Pay to address</span>
        <input name="pay_to" pattern="0x[0-9a-fA-F]{40}" required></label>
      <label><span lang="zh">金额（元）</span> / <span lang="en">Amount (yuan, ¥)</span>
        <input name="amount" inputmode="decimal" autocomplete="off" required
          pattern="\\s*\\d{1,13}([.,]\\d{1,2})?\\s*" placeholder="0.00"></label>
      <button type="submit"><span lang="zh">提出索赔</span> / <span lang="en">File a claim</span></button>
    </form>
    <details class="disputes"><summary><span lang="zh">申请仲裁</span> / <span lang="en">Dispute</span></summary>
      <form class="dispute">
        <label><span lang="zh">问题说明（交给仲裁员）</span> / <span lang="en">What went wrong (for the arbiters)</span>
          <textarea name="statement" maxlength="2000" rows="2" required></textarea></label>
        <label><span lang="zh">赔付地址</span> / <span lang="en">Pay an award to address</span>
          <input name="pay_to" pattern="0x[0-9a-fA-F]{40}" required></label>
        <button type="submit"><span lang="zh">提交仲裁</span> / <span lang="en">File a dispute</span></button>
      </form>
      <form class="collect">
        <label><span lang="zh">案件号</span> / <span lang="en">Case number</span>
          <input name="case_id" inputmode="numeric" pattern="[1-9][0-9]{0,17}" required></label>
        <button type="submit"><span lang="zh">领取裁决赔付</span> / <span lang="en">Collect the award</span></button>
      </form>
    </details>
    <p class="status" role="status" aria-live="polite"></p>`;
  li.querySelector(".batch").textContent = `${p.gtin} / ${p.lot}`;
  // the carrier vouches on chain for this code at hand-over: only then does the purchase join the
  // tree (the platform alone cannot put a purchase there); it says nothing of the secret
  li.querySelector(".handover .code").textContent = p.commitment;
  // and as a QR code for the courier's device, drawn here: no server is asked to draw this code
  const qr = qrcode(0, "M");
  qr.addData(p.commitment);
  qr.make();
  const img = li.querySelector(".handover .qr");
  img.src = qr.createDataURL(4, 16);
  img.alt = `QR: ${p.commitment}`;
  if (p.case_id) li.querySelector("input[name=case_id]").value = String(p.case_id);  // filed here
  shopper.claimTerms(p).then((t) => {
    if (!t) return;
    const amount = li.querySelector("input[name=amount]");
    amount.value = yuan(t.amount_fen); // the batch's one amount: it says nothing of the order
    amount.readOnly = true;
  }).catch(() => {}); // without terms the shopper types the amount; the chain refuses a wrong one
  const status = li.querySelector(".status");
  const run = async (what, job) => {
    delete status.dataset.status; // this action's answer, not the last one's
    status.textContent = "…";
    try {
      const out = await job();
      status.dataset.status = String(out.status);
      const detail = typeof out.body.detail === "string" ? out.body.detail : "";
      const said = out.body.error ? `${out.body.error} ${detail}`.trim() : "ok";
      const extra = out.body.case_id ? ` #${out.body.case_id}` : out.body.paid_fen !== undefined ? ` ¥${yuan(out.body.paid_fen)}` : "";
      status.textContent = `${what}: ${out.status} ${said}${extra} (${out.seconds.toFixed(2)} s)`;
      if (out.body.case_id) li.querySelector("input[name=case_id]").value = String(out.body.case_id);
    } catch (e) {
      status.dataset.status = "error";
      status.textContent = `${what}: ${e.message}`;
    }
  };
  // each form: its fields read, then its job run and answered in the status line
  const on = (form, what, job) => li.querySelector(`.${form}`).addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const get = (name) => String(f.get(name));
    const work = job(get);
    if (work) run(what, work);
  });
  on("review", "review", (get) => () => shopper.review(p, Number(get("rating")), get("text")));
  on("claim", "claim", (get) => {
    const fen = toFen(get("amount"));
    if (fen) return () => shopper.claim(p, get("pay_to"), fen);
    status.dataset.status = "error";
    status.textContent = "claim: 金额为元，最多两位小数 / the amount is in yuan, at most two decimals";
    return null;
  });
  on("dispute", "dispute", (get) => () => shopper.dispute(p, get("statement"), get("pay_to")));
  on("collect", "award", (get) => () => shopper.collect(get("case_id").trim()));
  return li;
}

async function main() {
  if (location.hash) {
    await shopper.fromFragment(location.hash);
    history.replaceState(null, "", location.pathname); // the secret leaves the address bar
  }
  const list = $("#purchases");
  for (const p of shopper.saved()) list.append(row(p));
  $("#empty").hidden = shopper.saved().length > 0;
  document.body.dataset.ready = "1";
}

window.shopper = shopper;
main();
