// Charts drawn as SVG elements (no inline style: the console's policy allows none): bars over a
// y axis with its scale (0, half, top) and unit, an x axis labelled at most 6 times (fewer on a phone), each bar's
// value in its tooltip; a day series gets its empty days as zero bars, so gaps read as gaps.
import { $ } from './common.js';

const SVG = 'http://www.w3.org/2000/svg';

function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// bars(target, values, labels, { unit: 'y axis title', axis: 'x axis title', short: (label) => tick text })
export function bars(target, values, labels, options = {}) {
  if (!values.length) { $(target).replaceChildren(); return; }
  // drawn at the width it is shown at, so that its text is 12 px on a phone too (a 600-unit drawing
  // shrunk onto a phone's 360 px read at 7 px, its last date cut off; phone trial)
  const shown = Math.min($(target).clientWidth || 640, 640);
  const left = 44; const right = 20; const bottom = 40; const top = 24;
  const width = Math.max(shown - left - right, 200); const height = 160;
  const max = Math.max(1, ...values);
  const scale = max <= 4 ? max : Math.ceil(max / 2) * 2;  // a top tick that halves into whole numbers
  const svg = el('svg', { viewBox: `0 0 ${width + left + right} ${height + top + bottom}`, class: 'chart' });
  const y = (v) => top + height - Math.round((v / scale) * height);
  for (const v of [0, scale / 2, scale]) {  // the y axis: gridlines and their values
    if (!Number.isInteger(v)) continue;
    svg.append(el('line', { x1: left, x2: left + width, y1: y(v), y2: y(v), class: v ? 'grid' : 'axis' }));
    svg.append(el('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, String(v)));
  }
  if (options.unit) svg.append(el('text', { x: 2, y: 14, class: 'tick' }, options.unit));
  svg.append(el('line', { x1: left, x2: left, y1: top, y2: top + height, class: 'axis' }));
  const w = Math.min(width / values.length, 48);  // a lone bar stays a bar
  const every = Math.ceil(values.length / Math.max(2, Math.min(6, Math.floor(width / 56))));  // a tick label ~5 chars
  values.forEach((v, i) => {
    const x = left + i * w;
    const rect = el('rect', { x: x + 2, width: Math.max(w - 4, 1), y: y(v), height: top + height - y(v) });
    rect.append(el('title', {}, `${labels[i]}: ${v}`));
    svg.append(rect);
    if (i % every === 0 || i === values.length - 1) {
      const tick = options.short ? options.short(labels[i]) : labels[i];
      const last = i === values.length - 1 && x + w / 2 + 24 > left + width;  // kept inside the drawing
      svg.append(el('text', { x: last ? left + width + right : x + w / 2, y: top + height + 16,
        'text-anchor': last ? 'end' : 'middle', class: 'tick' }, tick));
    }
  });
  if (options.axis) svg.append(el('text', { x: left + width / 2, y: top + height + 34, 'text-anchor': 'middle', class: 'tick' }, options.axis));
  $(target).replaceChildren(svg);
}

// a per-day series ({ day: 'YYYY-MM-DD', ... }) over the last `days` days to today (UTC, as the API
// counts), each missing day as a zero row
export function everyDay(perDay, days, zero) {
  const byDay = new Map(perDay.map((d) => [d.day, d]));
  const out = [];
  const today = new Date();
  for (let i = days - 1; i >= 0; i -= 1) {
    const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - i)).toISOString().slice(0, 10);
    out.push(byDay.get(day) || { day, ...zero });
  }
  return out;
}
