// "My purchases": the purchases this browser holds secrets for (and one from a receipt link's
// fragment), each with a review and a claim made by a proof in this browser.
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
      <code class="code"></code></details>
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
    <p class="status" role="status" aria-live="polite"></p>`;
  li.querySelector(".batch").textContent = `${p.gtin} / ${p.lot}`;
  // the carrier vouches on chain for this code at hand-over: only then does the purchase join the
  // tree (the platform alone cannot put a purchase there); it says nothing of the secret
  li.querySelector(".handover .code").textContent = p.commitment;
  shopper.claimTerms(p).then((t) => {
    if (!t) return;
    const amount = li.querySelector("input[name=amount]");
    amount.value = yuan(t.amount_fen); // the batch's one amount: it says nothing of the order
    amount.readOnly = true;
  }).catch(() => {}); // without terms the shopper types the amount; the chain refuses a wrong one
  const status = li.querySelector(".status");
  const run = async (what, job) => {
    status.textContent = "…";
    try {
      const out = await job();
      status.dataset.status = String(out.status);
      status.textContent = `${what}: ${out.status} ${out.body.error || "ok"} (${out.seconds.toFixed(2)} s)`;
    } catch (e) {
      status.dataset.status = "error";
      status.textContent = `${what}: ${e.message}`;
    }
  };
  li.querySelector(".review").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    run("review", () => shopper.review(p, Number(f.get("rating")), String(f.get("text"))));
  });
  li.querySelector(".claim").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const fen = toFen(f.get("amount"));
    if (!fen) {
      status.dataset.status = "error";
      status.textContent = "claim: 金额为元，最多两位小数 / the amount is in yuan, at most two decimals";
      return;
    }
    run("claim", () => shopper.claim(p, String(f.get("pay_to")), fen));
  });
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
