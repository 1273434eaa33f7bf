import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatMs } from './progress';
import type { RehearsalReport } from './report-json';

/** Escapes text for HTML element content and attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

const W = 1000;
const LABEL = 190;
const LANE = 18;
const RATE_H = 140;

interface Bar {
  readonly lane: string;
  readonly start: number;
  readonly end: number;
  readonly status: string;
  readonly group: string;
}

/** The timeline: one lane per phase (rehearsal and cutover), write rate per bucket below, the freeze highlighted. */
function timelineSvg(report: RehearsalReport): string {
  const bars: Bar[] = report.phases
    .filter((p) => p.endedAt)
    .map((p) => ({
      lane: `${p.group === 'cutover' ? '↳ ' : ''}${p.name}`,
      start: Date.parse(p.startedAt),
      end: Date.parse(p.endedAt as string),
      status: p.status,
      group: p.group,
    }));
  const rateStart = report.writeRate.startedAt ? Date.parse(report.writeRate.startedAt) : NaN;
  const buckets = report.writeRate.source.length;
  const rateEnd = rateStart + buckets * report.writeRate.bucketMs;
  const times = [...bars.flatMap((b) => [b.start, b.end]), rateStart, rateEnd].filter(Number.isFinite);
  if (times.length === 0) return '<p>No timeline data.</p>';
  const t0 = Math.min(...times);
  const t1 = Math.max(...times, t0 + 1);
  const x = (t: number): number => LABEL + ((t - t0) / (t1 - t0)) * (W - LABEL - 10);
  const lanes = [...new Set(bars.map((b) => b.lane))];
  const laneTop = 24;
  const rateTop = laneTop + lanes.length * LANE + 24;
  const height = rateTop + RATE_H + 30;
  const parts: string[] = [];

  // Freeze window (across the whole chart).
  if (report.freeze.from && report.freeze.to) {
    const fx = x(Date.parse(report.freeze.from));
    const fw = Math.max(2, x(Date.parse(report.freeze.to)) - fx);
    parts.push(
      `<rect class="freeze" x="${fx.toFixed(1)}" y="14" width="${fw.toFixed(1)}" height="${height - 34}"><title>write freeze ${esc(
        report.writeFreezeMs,
      )} ms</title></rect>`,
      `<text class="freeze-label" x="${(fx + fw + 4).toFixed(1)}" y="12">write freeze ${esc(formatMs(report.writeFreezeMs))}</text>`,
    );
  }
  // Time axis (seconds since start).
  const span = (t1 - t0) / 1000;
  const step = span > 120 ? 20 : span > 60 ? 10 : span > 20 ? 5 : span > 8 ? 2 : span > 3 ? 1 : 0.5;
  for (let s = 0; s <= span; s += step) {
    const xx = x(t0 + s * 1000);
    parts.push(
      `<line class="grid" x1="${xx.toFixed(1)}" y1="${laneTop - 4}" x2="${xx.toFixed(1)}" y2="${rateTop + RATE_H}"/>`,
      `<text class="axis" x="${xx.toFixed(1)}" y="${rateTop + RATE_H + 16}" text-anchor="middle">${s.toFixed(step < 1 ? 1 : 0)}s</text>`,
    );
  }
  // Phase lanes.
  lanes.forEach((lane, i) => {
    const y = laneTop + i * LANE;
    parts.push(`<text class="lane" x="${LABEL - 6}" y="${y + 13}" text-anchor="end">${esc(lane)}</text>`);
  });
  for (const b of bars) {
    const y = laneTop + lanes.indexOf(b.lane) * LANE;
    const bx = x(b.start);
    const bw = Math.max(1.5, x(b.end) - bx);
    parts.push(
      `<rect class="bar ${esc(b.group)} ${esc(b.status)}" x="${bx.toFixed(1)}" y="${y + 2}" width="${bw.toFixed(1)}" height="${LANE - 4}"><title>${esc(
        b.lane,
      )}: ${esc(formatMs(b.end - b.start))} (${esc(b.status)})</title></rect>`,
    );
  }
  // Write rate per bucket, stacked source/target.
  const max = Math.max(1, ...report.writeRate.source.map((s, i) => s + report.writeRate.target[i]));
  const perSecond = 1000 / report.writeRate.bucketMs;
  parts.push(
    `<text class="lane" x="${LABEL - 6}" y="${rateTop + 12}" text-anchor="end">writes / ${report.writeRate.bucketMs} ms</text>`,
    `<text class="axis" x="${LABEL - 6}" y="${rateTop + 28}" text-anchor="end">max ${max} (${max * perSecond}/s)</text>`,
    `<line class="axis-line" x1="${LABEL}" y1="${rateTop + RATE_H}" x2="${W - 10}" y2="${rateTop + RATE_H}"/>`,
  );
  if (Number.isFinite(rateStart)) {
    const bw = Math.max(0.5, x(rateStart + report.writeRate.bucketMs) - x(rateStart));
    for (let i = 0; i < buckets; i++) {
      const bx = x(rateStart + i * report.writeRate.bucketMs);
      const s = report.writeRate.source[i];
      const t = report.writeRate.target[i];
      const hs = (s / max) * RATE_H;
      const ht = (t / max) * RATE_H;
      if (s) {
        parts.push(
          `<rect class="rate-source" x="${bx.toFixed(1)}" y="${(rateTop + RATE_H - hs).toFixed(1)}" width="${bw.toFixed(1)}" height="${hs.toFixed(1)}"/>`,
        );
      }
      if (t) {
        parts.push(
          `<rect class="rate-target" x="${bx.toFixed(1)}" y="${(rateTop + RATE_H - hs - ht).toFixed(1)}" width="${bw.toFixed(1)}" height="${ht.toFixed(1)}"/>`,
        );
      }
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${height}" width="100%" role="img" aria-label="rehearsal timeline">${parts.join(
    '',
  )}</svg>`;
}

function breakdownSvg(report: RehearsalReport): string {
  const total = report.freeze.breakdown.reduce((s, b) => s + b.ms, 0);
  if (total <= 0) return '';
  let x = 0;
  const parts = report.freeze.breakdown.map((b, i) => {
    const w = (b.ms / total) * W;
    const rect = `<rect class="seg seg${i % 7}" x="${x.toFixed(1)}" y="0" width="${Math.max(0.5, w).toFixed(1)}" height="26"><title>${esc(
      b.name,
    )}: ${esc(b.ms)} ms</title></rect>`;
    x += w;
    return rect;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} 26" width="100%" role="img" aria-label="freeze breakdown">${parts.join(
    '',
  )}</svg>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1080px;color:#1b1f24;padding:0 16px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.ok{color:#1a7f37}.bad{color:#cf222e}.muted{color:#57606a}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:16px 0}
.card{border:1px solid #d0d7de;border-radius:8px;padding:10px 12px}.card b{display:block;font-size:20px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
svg text{font:11px system-ui,sans-serif;fill:#1b1f24}.axis{fill:#57606a}.grid{stroke:#eaeef2}.axis-line{stroke:#8c959f}
.bar.rehearsal{fill:#8c959f}.bar.cutover{fill:#0969da}.bar.failed{fill:#cf222e}.bar.skipped{fill:#d0d7de}
.rate-source{fill:#54aeff}.rate-target{fill:#2da44e}.freeze{fill:#cf222e;fill-opacity:.14;stroke:#cf222e;stroke-opacity:.5}
.freeze-label{fill:#cf222e;font-weight:600}
.seg0{fill:#0969da}.seg1{fill:#8250df}.seg2{fill:#bf3989}.seg3{fill:#bc4c00}.seg4{fill:#4d2d00}.seg5{fill:#1a7f37}.seg6{fill:#57606a}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;vertical-align:middle}
code{background:#f6f8fa;padding:1px 4px;border-radius:4px}
`;

export function renderHtmlReport(report: RehearsalReport): string {
  const verdict = report.ok
    ? '<span class="ok">✔ outcome as expected, no acknowledged write lost</span>'
    : '<span class="bad">✘ rehearsal did not meet its expectation</span>';
  const card = (label: string, value: string, cls = ''): string =>
    `<div class="card"><span class="muted">${esc(label)}</span><b class="${cls}">${esc(value)}</b></div>`;
  const rows = Object.values(report.rows.loaded).reduce((a, b) => a + b, 0);
  const expectRows = Object.keys({ ...report.expected, ...report.actual })
    .map((k) => {
      const want = (report.expected as unknown as Record<string, unknown>)[k];
      const got = (report.actual as Record<string, unknown>)[k];
      const match = want === undefined || want === got;
      return `<tr><td>${esc(k)}</td><td>${esc(JSON.stringify(want ?? null))}</td><td class="${match ? 'ok' : 'bad'}">${esc(
        JSON.stringify(got ?? null),
      )}</td></tr>`;
    })
    .join('');
  const breakdownRows = report.freeze.breakdown
    .map(
      (b, i) =>
        `<tr><td><svg width="10" height="10"><rect class="seg${i % 7}" width="10" height="10"/></svg> ${esc(b.name)}</td>` +
        `<td class="num">${esc(b.ms.toFixed(1))} ms</td></tr>`,
    )
    .join('');
  const phaseRows = report.phases
    .map(
      (p) =>
        `<tr><td>${p.group === 'cutover' ? '↳ ' : ''}${esc(p.name)}</td><td>${esc(p.status)}</td><td class="num">${
          p.durationMs === null ? '-' : esc(formatMs(p.durationMs))
        }</td><td class="muted">${esc(p.startedAt.slice(11, 23))}</td><td class="muted">${esc(p.detail ?? '')}</td></tr>`,
    )
    .join('');
  const executions = report.cutover.executions
    .map(
      (e) =>
        `<tr><td>#${e.index + 1}</td><td class="${e.status === 'SUCCEEDED' ? 'ok' : 'bad'}">${esc(e.status)}</td><td>${esc(
          e.error ?? '',
        )}</td><td>${esc(e.lastState ?? '')}</td><td class="num">${esc(formatMs(e.durationMs))}</td><td class="muted">${esc(
          (e.cause ?? '').slice(0, 300),
        )}</td></tr>`,
    )
    .join('');
  const lost = report.lostSamples.length
    ? `<h2 class="bad">Lost writes (first ${report.lostSamples.length})</h2><table><tr><th>kind</th><th>key</th><th>acknowledged by</th><th>at</th><th>found</th></tr>${report.lostSamples
        .map(
          (l) =>
            `<tr><td>${esc(l.kind)}</td><td><code>${esc(l.key)}</code></td><td>${esc(l.server)}</td><td>${esc(l.at)}</td><td>${esc(
              l.found,
            )}</td></tr>`,
        )
        .join('')}</table>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>zdm rehearsal — ${esc(report.scenario)} (${esc(report.mode)})</title><style>${CSS}</style></head>
<body>
<h1>Cutover rehearsal: ${esc(report.scenario)} <span class="muted">(${esc(report.mode)})</span></h1>
<p>${verdict}<br><span class="muted">${esc(report.description)} — migration <code>${esc(report.migrationId)}</code>, ${esc(
    report.startedAt,
  )}, ${esc(report.servers.kind)} servers</span></p>
${report.error ? `<p class="bad">Error: ${esc(report.error)}</p>` : ''}
<div class="cards">
${card('acknowledged writes', String(report.acknowledgedWrites))}
${card('found on target', String(report.writesFoundOnTarget))}
${card('lost writes', String(report.lostWrites), report.lostWrites === 0 ? 'ok' : 'bad')}
${card('write freeze', formatMs(report.writeFreezeMs))}
${card('load', `${report.load.achievedRate.toFixed(0)} / ${report.load.targetRate} w/s`)}
${card('rows', String(rows))}
${card('total time', formatMs(report.durationMs))}
${card('validation', report.validation.ok ? 'match' : 'MISMATCH', report.validation.ok ? 'ok' : 'bad')}
</div>
<h2>Timeline</h2>
<div class="legend muted">phases: <span style="background:#8c959f"></span>rehearsal <span style="background:#0969da"></span>cutover
<span style="background:#cf222e"></span>failed · commits: <span style="background:#54aeff"></span>on source <span style="background:#2da44e"></span>on target
<span style="background:#cf222e;opacity:.3"></span>write freeze</div>
${timelineSvg(report)}
<h2>Write freeze: ${esc(formatMs(report.writeFreezeMs))}</h2>
<p class="muted">Longest time between two acknowledged commits: ${esc(report.freeze.from ?? '-')} → ${esc(
    report.freeze.to ?? '-',
  )}. Next-longest gap ${esc(report.freeze.nextLongestGapMs)} ms; median ${esc(report.freeze.medianGapMs)} ms.</p>
${breakdownSvg(report)}
<table><tr><th>inside the freeze</th><th>duration</th></tr>${breakdownRows}</table>
<h2>Expected vs actual</h2>
<table><tr><th>field</th><th>expected</th><th>actual</th></tr>${expectRows}</table>
${report.mismatches.length ? `<p class="bad">${report.mismatches.map(esc).join('<br>')}</p>` : ''}
<h2>Executions</h2>
<table><tr><th></th><th>status</th><th>error</th><th>last state</th><th>duration</th><th>cause</th></tr>${executions}</table>
${lost}
<h2>Phases</h2>
<table><tr><th>phase</th><th>status</th><th>duration</th><th>started (UTC)</th><th>detail</th></tr>${phaseRows}</table>
<h2>Load</h2>
<p>${esc(report.load.concurrency)} connections as the application role, target ${esc(report.load.targetRate)} writes/s, achieved ${esc(
    report.load.achievedRate.toFixed(1),
  )} writes/s over ${esc(formatMs(report.load.durationMs))}; ${esc(report.load.retries)} retried attempts (${esc(
    Object.entries(report.load.retriedByCode)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ') || 'none',
  )}); ${esc(report.load.failed)} failed writes. Acknowledged on: ${esc(
    Object.entries(report.acknowledgedOn)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
  )}.</p>
<p class="muted">Source: ${esc(report.servers.source)} · Target: ${esc(report.servers.target)}</p>
</body></html>
`;
}

export function writeHtmlReport(path: string, report: RehearsalReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderHtmlReport(report));
}
