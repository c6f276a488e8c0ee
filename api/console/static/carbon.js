// The merchant's carbon footprints (docs/carbon.md): each batch's current footprint of a product,
// oldest first (the trend across batches), and for one batch what its footprint would be now with
// a factor table, or what is still missing to compute it. Reads only: computing and anchoring a
// footprint is `POST /v1/carbon/batches/{gtin}/{lot}/footprint`. Below, the PACT partners whose
// footprint requests the merchant answers (docs/carbon.md): added with the client ID and secret
// they gave (sealed on the server, never shown again), removed, and their requests' answers.
import { $, T, api, button, rows, say, fill, when, write } from './common.js';

function perUnit(f) { return `${f.perUnit} ${T.carbon_per_piece}`; }

async function show(e) {
  e.preventDefault();
  const gtin = $('carbon-gtin').value.trim();
  const lot = $('carbon-lot').value.trim();
  const table = $('carbon-table').value.trim();
  say('carbon-status', T.loading);
  try {
    const trend = await api(`/v1/carbon/products/${gtin}/trend`);
    rows('carbon-trend', trend, (f) => [f.lot, perUnit(f), `${f.primaryDataShare} %`, String(f.block)]);
    const out = $('carbon-preview');
    out.replaceChildren();
    if (lot && table) {
      const p = await api(`/v1/carbon/batches/${gtin}/${encodeURIComponent(lot)}/preview?table=${encodeURIComponent(table)}`);
      const head = document.createElement('p');
      head.textContent = p.complete ? fill(T.carbon_complete, { n: p.inputs }) : T.carbon_incomplete;
      const ul = document.createElement('ul'); ul.id = 'carbon-missing';
      ul.append(...p.missing.map((m) => { const li = document.createElement('li'); li.textContent = m; return li; }));
      out.append(head, ul);
    }
    say('carbon-status', trend.length ? '' : T.carbon_none);
  } catch (err) {
    say('carbon-status', T.error + err.message, true);
  }
}

function removeButton(p) {
  const b = button(T.pact_partner_remove, `${T.pact_partner_remove} ${p.base_url}`, async () => {
    if (!window.confirm(`${T.pact_partner_remove} ${p.base_url}?`)) return;  // its pending answers fail
    try {
      await write(`/v1/carbon/partners/${encodeURIComponent(p.id)}`, {}, 'DELETE');
      await loadPartners();  // the list first: the line below says it is done
      say('partner-status', T.pact_partner_removed);
    } catch (err) { say('partner-status', T.error + err.message, true); }
  });
  b.className = 'secondary';
  return b;
}

async function loadPartners() {
  const [partners, asked] = await Promise.all([api('/v1/carbon/partners'), api('/v1/carbon/requests')]);
  rows('partners', partners, (p) => [p.base_url, p.client_id, when(p.created), removeButton(p)]);
  rows('pact-requests', asked, (r) => [when(r.received), r.source, T[`pact_status:${r.status}`] || r.status,
    String(r.footprints), String(r.attempts), r.answered ? when(r.answered) : T.none_word]);
}

async function addPartner(e) {
  e.preventDefault();
  const body = { base_url: $('partner-url').value.trim(), client_id: $('partner-client').value.trim(),
    client_secret: $('partner-secret').value };
  try {
    await write('/v1/carbon/partners', body);
    $('partner-secret').value = '';  // sealed on the server; not kept in the page either
    await loadPartners();
    say('partner-status', T.pact_partner_added);
  } catch (err) { say('partner-status', T.error + err.message, true); }
}

export function wireCarbon() {
  $('carbon-form').addEventListener('submit', show);
  $('partner-form').addEventListener('submit', addPartner);
  loadPartners().catch((err) => say('partner-status', T.error + err.message, true));
}
