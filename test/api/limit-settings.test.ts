import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSettings, SettingsError } from '../../src/config/settings.ts';

/** The settings of the limits and headers (issue 14, item 1), and what production refuses. */

const PRODUCTION = { ENVIRONMENT: 'production', CA_ROOT_API_KEY: 'k'.repeat(40), KMS_KEY_NAME: 'projects/p/locations/l/keyRings/r/cryptoKeys/k', DATABASE_URL: 'postgres://db/pipeline', REDIS_URL: 'redis://cache:6379' };

function problems(env: Record<string, string>): string {
  try {
    loadSettings(env);
  } catch (error) {
    assert.ok(error instanceof SettingsError);
    return error.message;
  }
  assert.fail('settings accepted');
}

test('the seeds\' defaults: limits on, 100 per org and 10,000 in all per minute; no CORS origin; 1 MiB bodies', () => {
  const settings = loadSettings({});
  assert.equal(settings.rateLimitEnabled, true);
  assert.equal(settings.rateLimitPerOrgPerMinute, 100);
  assert.equal(settings.rateLimitGlobalPerMinute, 10_000);
  assert.equal(settings.redisUrl, undefined);
  assert.equal(settings.rateLimitRedisPrefix, 'finops-pipeline:dev:rate-limit:');
  assert.deepEqual(settings.corsOrigins, []);
  assert.equal(settings.corsAllowCredentials, false);
  assert.equal(settings.bodyLimitBytes, 1_048_576);
  assert.equal(settings.trustProxy, false);
  const tuned = loadSettings({ RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_REQUESTS_PER_MINUTE: '500', RATE_LIMIT_GLOBAL_REQUESTS_PER_MINUTE: '50000', CORS_ORIGINS: 'https://app.example.com, http://localhost:5173', TRUST_PROXY: '10.0.0.0/8,192.168.1.1', API_BODY_LIMIT_BYTES: '4096' });
  assert.equal(tuned.rateLimitEnabled, false);
  assert.equal(tuned.rateLimitPerOrgPerMinute, 500);
  assert.equal(tuned.rateLimitGlobalPerMinute, 50_000);
  assert.deepEqual(tuned.corsOrigins, ['https://app.example.com', 'http://localhost:5173']);
  assert.deepEqual(tuned.trustProxy, ['10.0.0.0/8', '192.168.1.1']);
  assert.equal(tuned.bodyLimitBytes, 4096);
  assert.equal(loadSettings({ TRUST_PROXY: '2' }).trustProxy, 2);
  assert.equal(loadSettings({ TRUST_PROXY: 'true' }).trustProxy, true);
});

test('malformed values are named, and REDIS_URL\'s password is never quoted', () => {
  const message = problems({ RATE_LIMIT_ENABLED: 'yes', RATE_LIMIT_REQUESTS_PER_MINUTE: '0', RATE_LIMIT_GLOBAL_REQUESTS_PER_MINUTE: 'lots', CORS_ORIGINS: 'https://app.example.com/,*', TRUST_PROXY: 'the-balancer', API_BODY_LIMIT_BYTES: '10', REDIS_URL: 'http://:hunter2@cache' });
  for (const expected of [
    'RATE_LIMIT_ENABLED must be true or false, got "yes"',
    'RATE_LIMIT_REQUESTS_PER_MINUTE must be an integer from 1 to 100000000, got "0"',
    'RATE_LIMIT_GLOBAL_REQUESTS_PER_MINUTE must be an integer from 1 to 100000000, got "lots"',
    'CORS_ORIGINS is either * or a list of origins, not both',
    'CORS_ORIGINS: "https://app.example.com/" is not an origin',
    'TRUST_PROXY: "the-balancer" is not true, false, a hop count, or an address or CIDR range',
    'API_BODY_LIMIT_BYTES must be an integer from 1024 to 67108864, got "10"',
    'REDIS_URL must be redis://',
  ]) assert.ok(message.includes(expected), `${expected}\nnot in\n${message}`);
  assert.doesNotMatch(message, /hunter2/);
  assert.doesNotMatch(String(loadSettings({ REDIS_URL: 'redis://:hunter2@cache:6379' }).redisUrl), /hunter2/);
});

test('production refuses rate limits off, and CORS * with credentials, naming each', () => {
  assert.equal(loadSettings(PRODUCTION).environment, 'production');
  assert.equal(loadSettings({ ...PRODUCTION, CORS_ORIGINS: 'https://app.example.com', CORS_ALLOW_CREDENTIALS: 'true' }).corsAllowCredentials, true);
  assert.equal(loadSettings({ ...PRODUCTION, CORS_ORIGINS: '*' }).corsOrigins[0], '*');

  assert.match(problems({ ...PRODUCTION, RATE_LIMIT_ENABLED: 'false' }), /RATE_LIMIT_ENABLED must be true in production/);
  assert.match(problems({ ...PRODUCTION, CORS_ORIGINS: '*', CORS_ALLOW_CREDENTIALS: 'true' }), /CORS_ORIGINS=\* with CORS_ALLOW_CREDENTIALS=true would let any web page/);
  const both = problems({ ...PRODUCTION, RATE_LIMIT_ENABLED: 'false', CORS_ORIGINS: '*', CORS_ALLOW_CREDENTIALS: 'true', CA_ROOT_API_KEY: 'short' });
  assert.equal(both.split('\n- ').length - 1, 3, both);
  // Development starts, and says what production would refuse.
  assert.ok(loadSettings({ CORS_ORIGINS: '*', CORS_ALLOW_CREDENTIALS: 'true' }).warnings.some((warning) => warning.includes('production refuses to start with it')));
});

test('production without REDIS_URL warns that each process counts its own limits', () => {
  const { REDIS_URL: _redis, ...withoutRedis } = PRODUCTION;
  assert.ok(loadSettings(withoutRedis).warnings.some((warning) => warning.startsWith('REDIS_URL is not set: each process counts its own rate limits')));
  assert.deepEqual(loadSettings(PRODUCTION).warnings, []);
  assert.equal(loadSettings(PRODUCTION).rateLimitRedisPrefix, 'finops-pipeline:prod:rate-limit:');
});
