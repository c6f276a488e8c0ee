// The merchant's carbon footprints (docs/carbon.md): each batch's current footprint of a product,
// oldest first (the trend across batches), and for one batch what its footprint would be now with
// a factor table, or what is still missing to compute it. Reads only: computing and anchoring a
// footprint is `POST /v1/carbon/batches/{gtin}/{lot}/footprint`.
import { $, T, api, fill, rows, say } from './common.js';

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

export function wireCarbon() { $('carbon-form').addEventListener('submit', show); }
