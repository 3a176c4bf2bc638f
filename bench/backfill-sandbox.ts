// The sandbox of the backfill benchmark, in a process of its own so the backfill's memory and
// CPU are measured apart from the simulators'. Prints one JSON line (URLs, credentials, pid),
// then serves until its stdin closes.
import { startSandbox } from '../src/sandbox/environment.ts';

const [patients, rateLimit] = [Number(process.argv[2] ?? 1_000), Number(process.argv[3] ?? 100)];
const sandbox = await startSandbox({ seed: 3, patients, spruceRateLimitPerMinute: rateLimit });
const spry = sandbox.spry.credentials()[0]!;
const spruce = sandbox.spruce.credentials()[0]!;
console.log(JSON.stringify({ pid: process.pid, spryUrl: sandbox.spryUrl, spruceUrl: sandbox.spruceUrl, spry, spruce }));
process.stdin.resume();
process.stdin.on('end', () => void sandbox.close().then(() => process.exit(0)));
