import type { MessageKind, Severity } from './message-kinds.ts';

/** What a message is about, read from the outbox, the run and its steps when it is sent. */
export interface MessageFacts {
  orgSlug: string;
  kind: MessageKind;
  severity: Severity;
  details: Record<string, unknown>;
  idempotencyKey: string;
  channelName: string;
  baseUrl: string;
  event: EventFacts | null;
  run: RunFacts | null;
  failingStep: StepFacts | null;
  /** A digest's messages, oldest first. */
  items?: MessageFacts[];
  /** A digest's period. */
  period?: { from: Date | null; to: Date };
}

export interface EventFacts {
  event_id: string;
  kind: string;
  provider: string | null;
  domain: string | null;
  pipeline: string | null;
  run_id: string | null;
  payload: Record<string, unknown>;
  created_at: Date;
}

export interface RunFacts {
  status: string;
  trigger: string;
  started_at: Date | null;
  ended_at: Date | null;
  duration_ms: number | null;
  records_processed: number;
  error_message: string | null;
}

export interface StepFacts {
  step_id: string;
  ps_type: string;
  attempts: number;
  error_message: string | null;
}

export interface Rendered {
  subject: string;
  text: string;
  html: string;
  slack: { text: string; blocks: unknown[] };
  json: Record<string, unknown>;
}

type Fact = [label: string, value: string];

/** One message, in the forms the transports send: email subject, text and HTML; Slack blocks; the webhook's JSON. */
export function renderMessage(facts: MessageFacts): Rendered {
  const title = titleOf(facts);
  const rows = factsOf(facts);
  const contributors = facts.kind === 'cost_alert' || facts.kind === 'cost_alert_resolved' ? contributorsOf(facts.event?.payload ?? {}) : [];
  const digestLines = (facts.items ?? []).map((item) => `${item.severity.padEnd(7)} ${timeOf(item.event?.created_at ?? null)} ${titleOf(item, false)}${oneLine(item)}`);
  const link = runUrl(facts);
  const subject = `[${facts.severity}] ${title}`;

  const text = [
    title,
    '',
    ...rows.map(([label, value]) => `${label}: ${value}`),
    ...(contributors.length > 0 ? ['', 'Top contributors:', ...contributors.map((c, i) => `  ${i + 1}. ${c}`)] : []),
    ...(digestLines.length > 0 ? ['', ...digestLines] : []),
    ...(link ? ['', `Run: ${link}`] : []),
    '',
    `Sent to channel ${facts.channelName} of ${facts.orgSlug}.`,
  ].join('\n');

  const html = [
    `<h2>${escapeHtml(title)}</h2>`,
    rows.length > 0 ? `<table>${rows.map(([label, value]) => `<tr><th align="left">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`).join('')}</table>` : '',
    contributors.length > 0 ? `<h3>Top contributors</h3><ol>${contributors.map((c) => `<li>${escapeHtml(c)}</li>`).join('')}</ol>` : '',
    digestLines.length > 0 ? `<ul>${(facts.items ?? []).map((item) => `<li><b>${escapeHtml(item.severity)}</b> ${escapeHtml(timeOf(item.event?.created_at ?? null))} ${escapeHtml(titleOf(item, false))}${escapeHtml(oneLine(item))}</li>`).join('')}</ul>` : '',
    link ? `<p><a href="${escapeHtml(link)}">Open the run</a></p>` : '',
    `<p style="color:#666">Sent to channel ${escapeHtml(facts.channelName)} of ${escapeHtml(facts.orgSlug)}.</p>`,
  ].join('\n');

  const slackText = `${emoji(facts)} ${escapeSlack(title)}`;
  const fields = rows.map(([label, value]) => `*${escapeSlack(label)}:* ${escapeSlack(value)}`);
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${slackText}*` } },
    ...(fields.length > 0 ? [{ type: 'section', text: { type: 'mrkdwn', text: fields.join('\n').slice(0, 2900) } }] : []),
    ...(contributors.length > 0 ? [{ type: 'section', text: { type: 'mrkdwn', text: `*Top contributors*\n${contributors.map((c, i) => `${i + 1}. ${escapeSlack(c)}`).join('\n')}`.slice(0, 2900) } }] : []),
    ...(digestLines.length > 0 ? [{ type: 'section', text: { type: 'mrkdwn', text: digestLines.map(escapeSlack).join('\n').slice(0, 2900) } }] : []),
    ...(link ? [{ type: 'section', text: { type: 'mrkdwn', text: `<${link}|Open the run>` } }] : []),
  ];

  return { subject, text, html, slack: { text: slackText, blocks }, json: jsonOf(facts, subject, text, link) };
}

function route(event: EventFacts | null): string | undefined {
  return event?.provider && event.domain && event.pipeline ? `${event.provider}/${event.domain}/${event.pipeline}` : undefined;
}

function titleOf(facts: MessageFacts, withOrg = true): string {
  const org = withOrg ? `${facts.orgSlug}: ` : '';
  const pipeline = route(facts.event) ?? 'a pipeline';
  const failures = Number(facts.details.consecutive_failures ?? 0);
  const payload = facts.event?.payload ?? {};
  switch (facts.kind) {
    case 'pipeline_success':
      return `${org}${pipeline} completed`;
    case 'pipeline_failure':
      return facts.details.reminder === true ? `${org}${pipeline} is still failing: ${failures} failures in a row` : `${org}${pipeline} failed`;
    case 'pipeline_recovered':
      return `${org}${pipeline} recovered after ${Number(facts.details.failures ?? 0)} failed runs`;
    case 'cost_alert':
      return `${org}cost alert: ${alertName(payload)}`;
    case 'cost_alert_resolved':
      return `${org}cost alert resolved: ${alertName(payload)}`;
    case 'test':
      return `${org}test notification`;
    case 'digest': {
      const counts = new Map<string, number>();
      for (const item of facts.items ?? []) counts.set(item.kind, (counts.get(item.kind) ?? 0) + 1);
      const summary = [...counts].map(([kind, n]) => `${n} ${kind.replaceAll('_', ' ')}`).join(', ');
      return `${org}daily digest${facts.period ? ` to ${facts.period.to.toISOString().slice(0, 16).replace('T', ' ')} UTC` : ''}: ${summary || 'nothing to report'}`;
    }
  }
}

function alertName(payload: Record<string, unknown>): string {
  const name = payload.title ?? payload.rule_name ?? payload.name ?? payload.rule_id ?? payload.rule ?? 'cost rule';
  return String(name).slice(0, 200);
}

/** The one-line gist of a digest item after its title. */
function oneLine(item: MessageFacts): string {
  if (item.kind === 'pipeline_failure') {
    const error = item.failingStep?.error_message ?? item.run?.error_message ?? item.event?.payload.error;
    return error ? ` (${item.failingStep ? `${item.failingStep.step_id}: ` : ''}${String(error).slice(0, 200)})` : '';
  }
  if (item.kind === 'cost_alert') {
    const payload = item.event?.payload ?? {};
    const amount = MONEY_KEYS.map((key) => payload[key]).find((value) => typeof value === 'number' || typeof value === 'string');
    return amount !== undefined ? ` (${money(amount, payload.currency)})` : '';
  }
  return item.run?.duration_ms != null ? ` (${duration(item.run.duration_ms)})` : '';
}

function factsOf(facts: MessageFacts): Fact[] {
  const rows: Fact[] = [['Organization', facts.orgSlug]];
  const pipeline = route(facts.event);
  if (facts.kind === 'digest') {
    if (facts.period) rows.push(['Period', `${facts.period.from ? facts.period.from.toISOString() : 'the start'} to ${facts.period.to.toISOString()}`]);
    rows.push(['Messages', String(facts.items?.length ?? 0)]);
    return rows;
  }
  if (facts.kind === 'test') return [...rows, ['Channel', facts.channelName], ['Message', 'This channel is set up: notifications will arrive here.']];
  if (pipeline) rows.push(['Pipeline', pipeline]);
  if (facts.event?.run_id) rows.push(['Run', facts.event.run_id]);
  if (facts.run) {
    rows.push(['Status', facts.run.status]);
    if (facts.run.duration_ms != null) rows.push(['Duration', duration(facts.run.duration_ms)]);
    if (facts.run.started_at) rows.push(['Started', facts.run.started_at.toISOString()]);
    if (facts.run.ended_at) rows.push(['Ended', facts.run.ended_at.toISOString()]);
    rows.push(['Records', String(facts.run.records_processed)], ['Trigger', facts.run.trigger]);
  } else if (facts.event?.payload.status) {
    rows.push(['Status', String(facts.event.payload.status)]);
  }
  if (facts.failingStep) {
    rows.push(['Failing step', `${facts.failingStep.step_id} (${facts.failingStep.ps_type}, ${facts.failingStep.attempts} attempts)`]);
    if (facts.failingStep.error_message) rows.push(['Step error', facts.failingStep.error_message]);
  }
  const runError = facts.run?.error_message ?? (typeof facts.event?.payload.error === 'string' ? facts.event.payload.error : null);
  if (facts.kind === 'pipeline_failure' && runError && runError !== facts.failingStep?.error_message) rows.push(['Error', runError]);
  if (facts.details.failing_since) rows.push(['Failing since', String(facts.details.failing_since)]);
  if (facts.kind === 'pipeline_failure' && facts.details.reminder === true) rows.push(['Note', 'Reminder: no further failure of this pipeline is notified until it succeeds again.']);
  if (facts.kind === 'cost_alert' || facts.kind === 'cost_alert_resolved') rows.push(...costFacts(facts.event?.payload ?? {}));
  return rows;
}

/**
 * Payloads come back from jsonb with their keys reordered (jsonb keeps them sorted by length),
 * so what a person reads first is chosen here: what the alert is about, then the amounts.
 */
const FACT_ORDER = ['rule_kind', 'kind', 'status', 'scope', 'period', 'day', 'date', 'month', 'amount', 'actual', 'spend', 'threshold', 'threshold_percent', 'budget', 'forecast', 'baseline', 'previous', 'change', 'change_percent'];
const CONTRIBUTOR_ORDER = ['provider', 'service', 'sub_account', 'account', 'region', 'resource', 'name', 'tag'];

function ordered(object: Record<string, unknown>, first: string[]): [string, unknown][] {
  const rank = (key: string) => (first.includes(key) ? first.indexOf(key) : first.length);
  return Object.entries(object).sort(([a], [b]) => rank(a) - rank(b));
}

const MONEY_KEYS = ['amount', 'actual', 'spend', 'cost', 'value', 'threshold', 'budget', 'forecast', 'baseline', 'previous', 'change', 'change_amount', 'month_to_date', 'expected'];
const HIDDEN_KEYS = new Set(['title', 'rule_name', 'name', 'top_contributors', 'contributors', 'currency']);

/** A cost event's amounts and scope, from whatever fields its rule wrote: scalars in order, money with its currency. */
function costFacts(payload: Record<string, unknown>): Fact[] {
  const rows: Fact[] = [];
  for (const [key, value] of ordered(payload, FACT_ORDER)) {
    if (HIDDEN_KEYS.has(key) || rows.length >= 20) continue;
    const label = key.replaceAll('_', ' ').replace(/^./, (c) => c.toUpperCase());
    if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
      rows.push([label, MONEY_KEYS.includes(key) ? money(value, payload.currency) : /percent|pct/.test(key) ? `${formatNumber(value)}%` : String(value).slice(0, 300)]);
    } else if (value && typeof value === 'object' && !Array.isArray(value)) {
      rows.push([label, scalars(value as Record<string, unknown>)]);
    }
  }
  return rows;
}

function contributorsOf(payload: Record<string, unknown>): string[] {
  const list = payload.top_contributors ?? payload.contributors;
  if (!Array.isArray(list)) return [];
  return list.slice(0, 10).map((entry) => (entry && typeof entry === 'object' ? scalars(entry as Record<string, unknown>, payload.currency) : String(entry)));
}

function scalars(object: Record<string, unknown>, currency?: unknown): string {
  return ordered(object, CONTRIBUTOR_ORDER)
    .filter(([, value]) => value !== null && typeof value !== 'object')
    .map(([key, value]) => `${key.replaceAll('_', ' ')} ${MONEY_KEYS.includes(key) ? money(value as string | number, currency) : /percent|pct/.test(key) ? `${formatNumber(value as number)}%` : String(value)}`)
    .join(', ')
    .slice(0, 400);
}

function money(value: unknown, currency: unknown): string {
  return `${formatNumber(value)}${typeof currency === 'string' ? ` ${currency}` : ''}`;
}

function formatNumber(value: unknown): string {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n)) return String(value);
  return n.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

export function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const seconds = Math.round(ms / 1000);
  const [h, m, s] = [Math.floor(seconds / 3600), Math.floor((seconds % 3600) / 60), seconds % 60];
  return h > 0 ? `${h}h ${m}m ${s}s` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}

function timeOf(at: Date | null): string {
  return at ? at.toISOString().slice(11, 16) : '--:--';
}

function runUrl(facts: MessageFacts): string | undefined {
  const runId = facts.event?.run_id;
  return runId ? `${facts.baseUrl.replace(/\/+$/, '')}/api/v1/pipelines/status/${facts.orgSlug}/${runId}` : undefined;
}

function emoji(facts: MessageFacts): string {
  return facts.severity === 'ERROR' ? ':red_circle:' : facts.severity === 'WARNING' ? ':warning:' : facts.kind === 'pipeline_recovered' ? ':large_green_circle:' : ':information_source:';
}

function jsonOf(facts: MessageFacts, subject: string, text: string, link: string | undefined): Record<string, unknown> {
  const event = facts.event;
  return {
    id: facts.idempotencyKey,
    kind: facts.kind,
    severity: facts.severity,
    org_slug: facts.orgSlug,
    subject,
    text,
    created_at: event?.created_at.toISOString() ?? null,
    details: facts.details,
    pipeline: route(event) ? { provider: event?.provider, domain: event?.domain, pipeline: event?.pipeline, route: route(event) } : null,
    run: event?.run_id
      ? { run_id: event.run_id, url: link, ...(facts.run ?? {}), failing_step: facts.failingStep }
      : null,
    payload: event && event.kind !== 'run_ended' ? event.payload : undefined,
    items: facts.items?.map((item) => ({ kind: item.kind, severity: item.severity, created_at: item.event?.created_at.toISOString() ?? null, title: titleOf(item, false), run_id: item.event?.run_id ?? null })),
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** Slack's mrkdwn needs &, < and > escaped, nothing else (api.slack.com, "Formatting text": escaping). */
function escapeSlack(text: string): string {
  return text.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] as string);
}
