// Charts drawn here as inline SVG (no library, nothing from another host): grouped bars and
// lines over categories (days, hours), with axes, a legend that does not rely on colour alone
// (each series has its own fill pattern, marker and dash, and the legend names it beside its
// swatch), and categories without figures marked as such, never drawn as zero. The page gives
// the words and the figures; it also puts each chart's figures in a real table beside it, so
// the SVG is one image (role="img") with a summary in its aria-label.
//
//   const svg = chart({ id: 'days', kind: 'bars', width: 640, label: '…', categories, series,
//                       yTitle: '件数', xTitle: '日付', title: (c, s, v) => '1月12日 予約 3件' });
//   const key = legend('days', series, { gap: '— 数値のない日' });
//   const stop = fitted(box, (width) => chart({ …, width }));   // redrawn when the box resizes
//
// categories: [{ key, axis: short label under the axis, gap: null | true (no figures) }]
// series: [{ key, name, style: STYLES.x, values: [number | null] (one per category) }]
// A category with `gap` has no bars or points; a null value alone (lines) leaves a gap in the line.

import { h, replace } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';

/** An SVG element: attributes (null/undefined/false skipped) and children, as `h` makes HTML. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/**
 * The series' looks. Each colour has at least 3:1 against the white plot (WCAG 1.4.11); series
 * side by side differ by pattern (solid, stripes, dots), marker (circle, square, triangle) and
 * dash as well, so they are told apart in greyscale, in print and without colour vision.
 */
export const STYLES = {
  blue: { color: '#0a4f96', fill: 'solid', marker: 'circle', dash: null },           // 8.2:1
  green: { color: '#17692c', fill: 'stripes', marker: 'square', dash: '6 3' },       // 6.8:1
  orange: { color: '#b34700', fill: 'dots', marker: 'triangle', dash: '2 3' },       // 5.5:1
  orangeStripes: { color: '#b34700', fill: 'stripes', marker: 'square', dash: '6 3' },
};
const INK = '#1a1d21';
const MUTED = '#4d5561'; // axis words, 7.5:1
const AXIS = '#5d6570'; // axis lines, 5.9:1
const GRID = '#d9dde3';
const GAP_BAND = '#eceef1';

/** The pattern that fills a series' bars, in the chart's <defs>. */
function patternOf(id, style) {
  if (style.fill === 'stripes') {
    return s('pattern', { id, width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
      s('rect', { width: 6, height: 6, fill: '#fff' }),
      s('rect', { width: 3, height: 6, fill: style.color }));
  }
  if (style.fill === 'dots') {
    return s('pattern', { id, width: 5, height: 5, patternUnits: 'userSpaceOnUse' },
      s('rect', { width: 5, height: 5, fill: '#fff' }),
      s('circle', { cx: 2.5, cy: 2.5, r: 1.6, fill: style.color }));
  }
  return null;
}
const fillOf = (id, style) => (style.fill === 'solid' ? style.color : `url(#${id})`);

/** A point's marker of a line series, centred on (x, y). */
function marker(style, x, y, r, attrs = {}) {
  const common = { fill: style.color, stroke: '#fff', 'stroke-width': 1, ...attrs };
  if (style.marker === 'square') return s('rect', { x: x - r, y: y - r, width: 2 * r, height: 2 * r, ...common });
  if (style.marker === 'triangle') {
    const d = `M${x},${y - r * 1.2} L${x + r * 1.1},${y + r * 0.8} L${x - r * 1.1},${y + r * 0.8} Z`;
    return s('path', { d, ...common });
  }
  return s('circle', { cx: x, cy: y, r, ...common });
}

/** A step of 1, 2 or 5 × 10^k that cuts 0…max into about `count` parts (whole numbers). */
export function niceStep(max, count = 4) {
  const raw = Math.max(max, 1) / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((v) => v >= raw);
  return Math.max(1, Math.round(step));
}

const round1 = (n) => Math.round(n * 10) / 10;

/**
 * One chart as an <svg role="img"> `width` pixels wide (the page measures its box; CSS scales it
 * on paper). Bars and points carry data-series, data-key and data-value, gaps data-gap.
 */
export function chart({
  id, kind = 'bars', width = 640, height = 280, label, categories, series,
  yTitle = '', xTitle = '', title = null, valueText = (v) => String(v),
}) {
  const m = { top: 30, right: 12, bottom: 46, left: 46 };
  const w = Math.max(width, 240);
  const plotW = w - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const n = Math.max(categories.length, 1);
  const values = series.flatMap((sr) => sr.values.filter((v, i) => v !== null && v !== undefined && !categories[i].gap));
  const max = values.length ? Math.max(...values) : 0;
  const step = niceStep(max);
  // A step of room above the highest value, for its marker and the value written over a bar.
  const top = Math.max(step * (Math.floor(max / step) + 1), step * 2);
  const y = (v) => round1(m.top + plotH - (v / top) * plotH);
  const band = plotW / n;
  const cx = (i) => round1(m.left + band * (i + 0.5));

  const defs = s('defs');
  for (const sr of series) {
    const p = patternOf(`${id}-${sr.key}-fill`, sr.style);
    if (p) defs.append(p);
  }
  const svg = s('svg', {
    xmlns: NS, class: 'chart-svg', role: 'img', 'aria-label': label, focusable: 'false',
    width: w, height, viewBox: `0 0 ${w} ${height}`, 'data-chart': id, 'font-size': 12,
  }, defs);

  // Days or hours without figures: a grey band and a dash on the axis, not a zero.
  const gaps = s('g', { class: 'gaps' });
  categories.forEach((c, i) => {
    if (!c.gap) return;
    gaps.append(
      s('rect', { x: round1(m.left + band * i), y: m.top, width: round1(band), height: plotH, fill: GAP_BAND, 'data-gap': c.key }),
      s('text', { x: cx(i), y: m.top + plotH - 4, 'text-anchor': 'middle', fill: MUTED, 'font-weight': 700 }, '–'));
  });
  svg.append(gaps);

  // The value axis: ticks, grid lines, its title above it.
  const axisY = s('g', { class: 'axis axis-y', fill: MUTED });
  for (let v = 0; v <= top; v += step) {
    axisY.append(
      s('line', { x1: m.left, x2: m.left + plotW, y1: y(v), y2: y(v), stroke: v === 0 ? AXIS : GRID, 'stroke-width': 1 }),
      s('text', { x: m.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(v)));
  }
  axisY.append(s('text', { x: 4, y: 14, 'text-anchor': 'start', fill: INK, 'font-weight': 700 }, yTitle));
  svg.append(axisY);

  // The category axis: as many words as fit (about 36 px each), always the first.
  const axisX = s('g', { class: 'axis axis-x', fill: MUTED });
  const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(plotW / 36))));
  categories.forEach((c, i) => {
    if (i % every) return;
    axisX.append(
      s('line', { x1: cx(i), x2: cx(i), y1: m.top + plotH, y2: m.top + plotH + 4, stroke: AXIS }),
      s('text', { x: cx(i), y: m.top + plotH + 17, 'text-anchor': 'middle' }, c.axis));
  });
  axisX.append(
    s('line', { x1: m.left, x2: m.left, y1: m.top, y2: m.top + plotH, stroke: AXIS }),
    s('text', { x: m.left + plotW / 2, y: height - 6, 'text-anchor': 'middle', fill: INK, 'font-weight': 700 }, xTitle));
  svg.append(axisX);

  const hint = (c, sr, v) => (title ? s('title', null, title(c, sr, v)) : null);
  if (kind === 'bars') {
    const pad = Math.min(band * 0.25, 8);
    const barW = Math.max(1, (band - pad) / series.length);
    const labelled = barW >= 16; // room for its value above each bar
    series.forEach((sr, k) => {
      const g = s('g', { class: 'series', 'data-series': sr.key });
      categories.forEach((c, i) => {
        const v = sr.values[i];
        if (c.gap || v === null || v === undefined) return;
        const x = round1(m.left + band * i + pad / 2 + barW * k);
        const bw = round1(Math.max(1, barW - (series.length > 1 ? 1 : 0)));
        g.append(s('rect', {
          class: 'bar', x, y: y(v), width: bw, height: round1(m.top + plotH - y(v)),
          fill: fillOf(`${id}-${sr.key}-fill`, sr.style), stroke: sr.style.color, 'stroke-width': sr.style.fill === 'solid' ? 0 : 1.2,
          'data-key': c.key, 'data-value': v,
        }, hint(c, sr, v)));
        if (labelled) {
          g.append(s('text', { class: 'value', x: round1(x + bw / 2), y: y(v) - 4, 'text-anchor': 'middle', fill: INK, 'font-size': 11 }, valueText(v)));
        }
      });
      svg.append(g);
    });
  } else {
    const r = Math.max(2.5, Math.min(5, band / 4));
    // Each series a little to the side of the others, so equal values do not hide a marker.
    const dodge = Math.min(band / (2 * series.length), r + 1);
    series.forEach((sr, k) => {
      const g = s('g', { class: 'series', 'data-series': sr.key });
      const px = (i) => round1(cx(i) + dodge * (k - (series.length - 1) / 2));
      // A line only between neighbours that both have a value: a gap stays a gap.
      let d = '';
      categories.forEach((c, i) => {
        const v = sr.values[i];
        const prev = i > 0 ? sr.values[i - 1] : null;
        if (c.gap || v === null || v === undefined) return;
        const joined = i > 0 && !categories[i - 1].gap && prev !== null && prev !== undefined;
        d += `${joined ? 'L' : 'M'}${px(i)},${y(v)} `;
      });
      if (d) g.append(s('path', { d: d.trim(), fill: 'none', stroke: sr.style.color, 'stroke-width': 2, 'stroke-dasharray': sr.style.dash }));
      categories.forEach((c, i) => {
        const v = sr.values[i];
        if (c.gap || v === null || v === undefined) return;
        g.append(marker(sr.style, px(i), y(v), r, { class: 'point', 'data-key': c.key, 'data-value': v }));
        const last = g.lastChild;
        const t = hint(c, sr, v);
        if (t) last.append(t);
      });
      svg.append(g);
    });
  }
  return svg;
}

/** A series' swatch for the legend: its bar pattern, or its line with its marker. */
function swatch(id, sr, kind) {
  const svg = s('svg', { width: 28, height: 16, viewBox: '0 0 28 16', 'aria-hidden': 'true', focusable: 'false', class: 'swatch' });
  if (kind === 'lines') {
    svg.append(
      s('line', { x1: 1, x2: 27, y1: 8, y2: 8, stroke: sr.style.color, 'stroke-width': 2, 'stroke-dasharray': sr.style.dash }),
      marker(sr.style, 14, 8, 4.5));
  } else {
    const p = patternOf(`${id}-${sr.key}-legend`, sr.style);
    if (p) svg.append(s('defs', null, p));
    svg.append(s('rect', {
      x: 4, y: 1, width: 20, height: 14, fill: fillOf(`${id}-${sr.key}-legend`, sr.style),
      stroke: sr.style.color, 'stroke-width': sr.style.fill === 'solid' ? 0 : 1.5,
    }));
  }
  return svg;
}

/** The legend: each series' swatch beside its name, and what a grey band means. */
export function legend(id, series, { kind = 'bars', gap = null } = {}) {
  const items = series.map((sr) => h('li', { 'data-series': sr.key }, swatch(id, sr, kind), h('span', null, sr.name)));
  if (gap) {
    items.push(h('li', { class: 'gap' },
      s('svg', { width: 28, height: 16, viewBox: '0 0 28 16', 'aria-hidden': 'true', focusable: 'false', class: 'swatch' },
        s('rect', { x: 4, y: 0, width: 20, height: 16, fill: GAP_BAND }),
        s('text', { x: 14, y: 13, 'text-anchor': 'middle', fill: MUTED, 'font-weight': 700, 'font-size': 12 }, '–')),
      h('span', null, gap)));
  }
  return h('ul', { class: 'chart-legend', 'data-legend': id }, items);
}

/**
 * Draws `draw(width)` into `box` at the box's width, and again when that width changes (a
 * turned tablet, a narrower window). Returns a function that stops watching.
 */
export function fitted(box, draw) {
  let drawn = 0;
  const render = () => {
    const width = Math.floor(box.clientWidth);
    if (!width || Math.abs(width - drawn) < 4) return;
    drawn = width;
    replace(box, draw(width));
  };
  render();
  if (typeof ResizeObserver !== 'function') return () => {};
  const watch = new ResizeObserver(() => render());
  watch.observe(box);
  return () => watch.disconnect();
}
