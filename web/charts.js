// Small inline SVG charts: one series over the last hour, with its latest and peak values.
const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

/**
 * An area chart of `values` (nulls are gaps drawn as zero), `format` for the labels.
 * Returns a <figure> with the chart and a caption.
 */
export function sparkline(values, { title, format = String, width = 280, height = 56, kind = 'throughput' }) {
  const figure = document.createElement('figure');
  figure.className = `spark spark-${kind}`;
  const max = Math.max(1, ...values.map((v) => v ?? 0));
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const y = (v) => height - 2 - ((v ?? 0) / max) * (height - 6);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${y(v).toFixed(1)}`);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': title, preserveAspectRatio: 'none' });
  chart.append(svg('line', { x1: 0, y1: height - 1, x2: width, y2: height - 1, class: 'axis' }));
  if (values.length > 0) {
    chart.append(svg('polygon', { points: `0,${height} ${points.join(' ')} ${width},${height}`, class: 'area' }));
    chart.append(svg('polyline', { points: points.join(' '), class: 'line' }));
  }
  const latest = [...values].reverse().find((v) => v !== null && v !== undefined);
  const peak = values.reduce((m, v) => (v !== null && v !== undefined && v > (m ?? -Infinity) ? v : m), null);
  const caption = document.createElement('figcaption');
  const name = document.createElement('span');
  name.textContent = title;
  const stats = document.createElement('span');
  stats.className = 'muted';
  stats.textContent = `now ${latest === undefined ? '—' : format(latest)} · peak ${peak === null ? '—' : format(peak)}`;
  caption.append(name, stats);
  figure.append(chart, caption);
  return figure;
}
