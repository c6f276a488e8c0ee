// Lists a merchant (and an auditor) reads: the counterfeit reports shoppers sent from the scan page,
// newest first, paged back by the last id shown, each with its code and the time in Beijing time;
// and the earlier code issues by batch, each with its labels PDF and CSV to download again (the
// same codes: printing again never issues new ones).
import { $, T, api, button, rows, say, when as beijing } from './common.js';

// a file from the API (the session's token: a plain link would be a 401), saved under `name`
export async function saveFile(path, name) {
  const blob = await api(path, { headers: { Accept: '*/*' } });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url; a.download = name; document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

let reportsShown = [];
let reportsAsked = 0;  // as issuesAsked
async function loadReports(more = false) {
  const asked = ++reportsAsked;
  const q = new URLSearchParams({ limit: '20' });
  if (more && reportsShown.length) q.set('before_id', String(reportsShown[reportsShown.length - 1].id));
  const page = await api(`/v1/scan/reports?${q}`);
  if (asked !== reportsAsked) return reportsShown;
  reportsShown = more ? reportsShown.concat(page) : page;
  rows('reports', reportsShown, (r) => [beijing(r.at), `${r.gtin} / ${r.lot} / ${r.serial}`, r.place || '—',
    r.message, r.contact || '—'], T.reports_none);
  $('reports-older').hidden = page.length < 20;
  return reportsShown;
}

export function wireReports(need = () => {}) {
  const fail = (err) => say('reports-status', T.error + err.message, true);
  $('reports-older').addEventListener('click', () => loadReports(true).catch(fail));
  loadReports().then((shown) => need('reports', shown.length ? [`${T.attn_reports}${shown.length}${shown.length >= 20 ? '+' : ''}`, '#task-reports'] : null))
    .catch(fail);
}

let issuesShown = [];
let issuesAsked = 0;  // the latest list asked for: an earlier answer arriving after it is dropped
async function loadIssues(more = false) {
  const asked = ++issuesAsked;
  const q = new URLSearchParams({ limit: '20' });
  const gtin = $('issues-gtin').value.trim(); const lot = $('issues-lot').value.trim();
  if (gtin) q.set('gtin', gtin.padStart(14, '0'));
  if (lot) q.set('lot', lot);
  if (more && issuesShown.length) q.set('before_id', String(issuesShown[issuesShown.length - 1].issue_id));
  const page = await api(`/v1/code-issues?${q}`);
  // (the list drawn again after an issue, all lots, once landed after the filtered one asked next)
  if (asked !== issuesAsked) return;
  issuesShown = more ? issuesShown.concat(page) : page;
  rows('issues', issuesShown, (i) => {
    const files = document.createElement('span'); files.className = 'actions';
    const get = (kind, path, name) => button(T[`issue_${kind}`], `${T[`issue_${kind}`]} #${i.issue_id}`, () => saveFile(path, name)
      .catch((err) => say('issues-status', T.error + err.message, true)));
    files.append(get('pdf', i.labels_url, `labels-${i.gtin}-${i.lot}-${i.issue_id}.pdf`),
      get('csv', i.csv_url, `codes-${i.gtin}-${i.lot}-${i.issue_id}.csv`));
    return [`#${i.issue_id}`, beijing(i.created_at), `${i.gtin} / ${i.lot}`, String(i.count),
      i.short ? T.code_form_short_word : T.code_form_long_word, i.anchor_tx ? T.issue_anchored : T.issue_waiting, files];
  }, T.none_yet);
  $('issues-older').hidden = page.length < 20;
}

export function wireIssues() {
  const fail = (err) => say('issues-status', T.error + err.message, true);
  $('issues-filter').addEventListener('submit', (e) => { e.preventDefault(); loadIssues().catch(fail); });
  $('issues-older').addEventListener('click', () => loadIssues(true).catch(fail));
  loadIssues().catch(fail);
  return () => loadIssues().catch(fail);  // again after a new issue
}
