// Charts drawn as SVG elements (no inline style: the console's policy allows none).
import { $ } from './common.js';

const SVG = 'http://www.w3.org/2000/svg';

export function bars(target, values, labels) {
  if (!values.length) { $(target).replaceChildren(); return; }
  const width = 600; const height = 160; const max = Math.max(1, ...values);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height + 20}`);
  svg.setAttribute('class', 'chart');
  const w = Math.min(width / Math.max(values.length, 1), 48);  // a lone bar stays a bar
  values.forEach((v, i) => {
    const h = Math.round((v / max) * height);
    const rect = document.createElementNS(SVG, 'rect');
    rect.setAttribute('x', String(i * w + 2)); rect.setAttribute('width', String(Math.max(w - 4, 1)));
    rect.setAttribute('y', String(height - h)); rect.setAttribute('height', String(h));
    const title = document.createElementNS(SVG, 'title'); title.textContent = `${labels[i]}: ${v}`;
    rect.append(title); svg.append(rect);
  });
  $(target).replaceChildren(svg);
}
