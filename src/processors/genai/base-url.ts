import { ProcessorError } from '../../shared/errors.ts';
import type { ProcessorContext } from '../types.ts';

/** The environment's base URL per provider (`OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL`), read by config/settings.ts and handed to steps on the context. */
export function environmentBaseUrl(context: ProcessorContext, provider: string): string | undefined {
  return context.providerBaseUrls[provider] || undefined;
}

/**
 * Where a provider's API is, as the official SDKs decide it: an explicit setting first (the
 * step's `base_url`, then the credential's `base_url` metadata), then the environment
 * variable, then the provider's public URL. Local replays and tests point pipelines at a local
 * server through any of the first three.
 */
export function resolveBaseUrl(candidates: { step?: string | undefined; credential?: unknown; environment?: string | undefined; fallback: string }): URL {
  const chosen = [candidates.step, typeof candidates.credential === 'string' ? candidates.credential : undefined, candidates.environment].find((value) => value !== undefined && value !== '') ?? candidates.fallback;
  let url: URL;
  try {
    url = new URL(chosen);
  } catch (cause) {
    throw new ProcessorError(`base URL "${chosen}" is not a URL`, { retryable: false, cause });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ProcessorError(`base URL "${chosen}" must be http or https`, { retryable: false });
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** A path under the base URL (`organization/usage/completions` under `https://api.openai.com/v1/`). */
export function endpointUrl(base: URL, path: string): URL {
  return new URL(path.replace(/^\/+/, ''), base);
}
