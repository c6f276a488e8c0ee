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

// the page's words, in its language (the server put them in the page: ledger/locale/*/purchases.po)
const T = JSON.parse(document.getElementById("i18n").textContent);
const t = (key, values = {}) => (T[key] || key).replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ""));

function row(p) {
  const li = document.createElement("li");
  li.className = "purchase";
  li.dataset.commitment = p.commitment;
  li.innerHTML = `
    <p>${t("batch")} <code class="batch"></code></p>
    <details class="handover"><summary>${t("handover")}</summary>
      <img class="qr" width="180" height="180" alt=""><code class="code"></code></details>
    <form class="review">
      <label>${t("rating")}
        <select name="rating">${[5, 4, 3, 2, 1].map((r) => `<option>${r}</option>`).join("")}</select></label>
      <label>${t("review")}
        <textarea name="text" maxlength="2000" rows="2"></textarea></label>
      <button type="submit">${t("post_review")}</button>
    </form>
    <form class="claim">
      <label>${t("pay_to")}
        <input name="pay_to" pattern="0x[0-9a-fA-F]{40}" required autocomplete="off" spellcheck="false"
          placeholder="0x…"></label>
      <label>${t("amount")}
        <input name="amount" inputmode="decimal" autocomplete="off" required
          pattern="\\s*\\d{1,13}([.,]\\d{1,2})?\\s*" placeholder="0.00"></label>
      <button type="submit">${t("file_claim")}</button>
    </form>
    <details class="disputes"><summary>${t("dispute")}</summary>
      <form class="dispute">
        <label>${t("statement")}
          <textarea name="statement" maxlength="2000" rows="2" required></textarea></label>
        <label>${t("award_to")}
          <input name="pay_to" pattern="0x[0-9a-fA-F]{40}" required autocomplete="off" spellcheck="false"
            placeholder="0x…"></label>
        <button type="submit">${t("file_dispute")}</button>
      </form>
      <form class="collect">
        <label>${t("case_id")}
          <input name="case_id" inputmode="numeric" pattern="[1-9][0-9]{0,17}" required></label>
        <button type="submit">${t("collect")}</button>
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
  shopper.claimTerms(p).then((terms) => {
    if (!terms) return;
    const amount = li.querySelector("input[name=amount]");
    amount.value = yuan(terms.amount_fen); // the batch's one amount: it says nothing of the order
    amount.readOnly = true;
  }).catch(() => {}); // without terms the shopper types the amount; the chain refuses a wrong one
  const status = li.querySelector(".status");
  const run = async (what, job) => {
    delete status.dataset.status; // this action's answer, not the last one's
    status.textContent = t("working");
    try {
      const out = await job();
      status.dataset.status = String(out.status);
      status.textContent = `${t(`did:${what}`)}: ${said(what, out)} (${t("seconds", { s: out.seconds.toFixed(1) })})`;
      if (out.body.case_id) li.querySelector("input[name=case_id]").value = String(out.body.case_id);
    } catch (e) {
      status.dataset.status = "error";
      const known = /^not_in_tree/.test(e.message) ? "error:not_in_tree" : e instanceof TypeError ? "error:network" : null;
      status.textContent = `${t(`did:${what}`)}: ${known ? t(known) : e.message}`;
    }
  };
  // an answer in the page's words: what was done, or why not (the server's own words for the rest)
  const said = (what, out) => {
    const b = out.body || {};
    if (out.status < 300) {
      const amount = b.paid_fen !== undefined ? `¥${yuan(b.paid_fen)}` : "";
      return t(`ok:${what}`, { amount, case: b.case_id ?? "" });
    }
    const code = b.error || "";
    if (T[`error:${code}`]) {
      const detail = code === "invalid_input" && Array.isArray(b.detail) ? b.detail.map((d) => d.field).join(", ") : "";
      return `${t(`error:${code}`)} ${detail}`.trim();
    }
    const detail = typeof b.detail === "string" ? b.detail : "";
    return `${t("error:other")} ${code} ${detail}`.trim();
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
    status.textContent = `${t("did:claim")}: ${t("bad_amount")}`;
    return null;
  });
  on("dispute", "dispute", (get) => () => shopper.dispute(p, get("statement"), get("pay_to")));
  on("collect", "award", (get) => () => shopper.collect(get("case_id").trim()));
  return li;
}

async function main() {
  if (location.hash) {
    const got = await shopper.fromFragment(location.hash);
    history.replaceState(null, "", location.pathname + location.search); // the secret leaves the address bar
    if (!got) {  // cut short or damaged in copying: said, and nothing saved
      const bad = document.createElement("p");
      bad.className = "bad-receipt";
      bad.setAttribute("role", "alert");
      bad.textContent = t("bad_receipt");
      $("#purchases").before(bad);
    }
  }
  const list = $("#purchases");
  for (const p of shopper.saved()) list.append(row(p));
  $("#empty").hidden = shopper.saved().length > 0;
  document.body.dataset.ready = "1";
}

window.shopper = shopper;
main();
