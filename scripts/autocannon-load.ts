/**
 * The load of scripts/bench-api.ts in a process of its own (so the server's CPU time is the
 * server's): `node scripts/autocannon-load.ts '<autocannon options as JSON>'` prints autocannon's result as JSON.
 */
import { createRequire } from 'node:module';

const autocannon = createRequire(import.meta.url)('autocannon') as (options: unknown) => Promise<unknown>;
process.stdout.write(JSON.stringify(await autocannon(JSON.parse(process.argv[2] ?? '{}'))));
