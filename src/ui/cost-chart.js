import uPlot from './vendor/uplot.js';
import { useEffect, useRef } from './vendor/preact-hooks.js';
import { html } from './html.js';
import { money } from './format.js';

const COLORS = ['#3366cc', '#dc7633', '#2e9e5b', '#9b59b6', '#c0392b', '#17a2b8', '#b7950b', '#7f8c8d', '#e84393', '#16a085'];

/**
 * Days × groups as stacked bars. uPlot draws series in order, over each other, so the stack is
 * drawn top first: the series of group k holds the sum of groups 1..k, and the legend shows
 * each group's own amount.
 */
export function stackedSeries(summary) {
  const days = [];
  for (let day = summary.from; day <= summary.to; day = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)) days.push(day);
  const index = new Map(days.map((day, i) => [day, i]));
  const groups = summary.groups.map((g) => g.group);
  const own = groups.map(() => days.map(() => 0));
  for (const entry of summary.days) own[groups.indexOf(entry.group)][index.get(entry.day)] = Number(entry.cost);
  const stacked = own.map((_, k) => days.map((_, i) => own.slice(0, k + 1).reduce((sum, values) => sum + values[i], 0)));
  return { x: days.map((day) => Date.parse(`${day}T00:00:00Z`) / 1000), groups, own, stacked };
}

export function CostChart({ summary }) {
  const target = useRef(null);
  useEffect(() => {
    const { x, groups, own, stacked } = stackedSeries(summary);
    const order = groups.map((_, k) => k).reverse();
    const bars = uPlot.paths.bars({ size: [0.8, 48] });
    const chart = new uPlot({
      width: Math.max(target.current.clientWidth - 16, 320),
      height: 320,
      // Half a day either side, so the first and last bars are whole; stacked bars start at 0.
      scales: { x: { time: true, range: (_u, min, max) => [min - 43_200, max + 43_200] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] } },
      axes: [{}, { values: (_u, ticks) => ticks.map((tick) => money(String(tick), summary.currency)), size: 80 }],
      series: [
        { value: (_u, ts) => (ts === null ? '—' : new Date(ts * 1000).toISOString().slice(0, 10)) },
        ...order.map((k) => ({
          label: groups[k],
          fill: COLORS[k % COLORS.length],
          stroke: COLORS[k % COLORS.length],
          paths: bars,
          points: { show: false },
          value: (_u, _v, _si, i) => (i === null ? '—' : money(String(own[k][i]), summary.currency)),
        })),
      ],
    }, [x, ...order.map((k) => stacked[k])], target.current);
    return () => chart.destroy();
  }, [summary]);
  return html`<div class="cost-chart" ref=${target}></div>`;
}
