import { ProcessorError } from '../../shared/errors.ts';
import { pages } from '../http/pages.ts';
import { paginator } from '../http/pagination.ts';
import { endpointUrl } from './base-url.ts';
import type { ReportSource } from './source.ts';

/**
 * DeepSeek has no usage or cost API: its one account endpoint is the balance, now. Each run adds
 * one snapshot (a row per currency) at the time it read it, `snapshot_at`; earlier snapshots
 * stay, and a re-run at the same time replaces its own. It is filed under the run's day it was
 * taken (clamped into the run's range, as a run for past days still reads today's balance).
 * Spend could only be inferred from differences of snapshots, which top-ups confound, so no cost
 * is derived from it.
 */
export const deepseekBalance: ReportSource = {
  provider: 'deepseek',
  report: 'balance',
  label: 'DeepSeek',
  table: 'genai_deepseek_balance_raw',
  schema: 'genai/genai_deepseek_balance_raw',
  runDateColumn: 'snapshot_date',
  snapshotTimeColumn: 'snapshot_at',
  defaultBaseUrl: 'https://api.deepseek.com',
  authorize: async (credential) => ({ config: { type: 'bearer' }, secret: credential.secret }),
  async *rows(run) {
    const today = run.now.toISOString().slice(0, 10);
    const snapshotDate = today < run.startDate ? run.startDate : today > run.endDate ? run.endDate : today;
    const url = endpointUrl(run.baseUrl, 'user/balance');
    for await (const page of pages({ client: run.client, paginator: paginator({ type: 'none' }), url, recordPath: ['balance_infos'], provider: 'DeepSeek' })) {
      const available = (page.body as { is_available?: unknown } | null)?.is_available;
      if (typeof available !== 'boolean') throw new ProcessorError('DeepSeek /user/balance: no is_available in the answer', { retryable: false });
      yield page.records.map(({ record }) => {
        const info = record as Record<string, unknown>;
        return {
          snapshot_date: snapshotDate,
          snapshot_at: run.now.toISOString(),
          billing_account_id: run.account.id,
          billing_account_name: run.account.name,
          is_available: available,
          currency: info.currency ?? null,
          total_balance: info.total_balance ?? null,
          granted_balance: info.granted_balance ?? null,
          topped_up_balance: info.topped_up_balance ?? null,
        };
      });
    }
  },
};
