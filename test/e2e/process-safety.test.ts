// How the service process ends (src/cli/process-guard.ts), seen from outside as a supervisor
// sees it: `spruce-sync start` drains and exits 0 on SIGTERM; a crash (an unhandled rejection,
// an uncaught exception, injected by a preloaded test fixture) is logged as a code, never its
// message, then drains and exits 1; a drain past server.shutdownTimeoutMs exits 1; a second
// signal exits at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-process-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  output: () => string;
  /** Resolves once the output contains `text`. */
  waitFor(text: string): Promise<void>;
  exited: Promise<number | null>;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.push(child);
  let output = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  const record = (chunk: Buffer) => {
    output += chunk.toString();
    for (const w of waiters.filter((w) => output.includes(w.text))) w.resolve();
  };
  child.stdout!.on('data', record);
  child.stderr!.on('data', record);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    waitFor: (text) =>
      new Promise((resolve, reject) => {
        if (output.includes(text)) return resolve();
        waiters.push({ text, resolve });
        void exited.then((code) => reject(new Error(`exited (${code}) before "${text}":\n${output.slice(0, 3000)}`)));
      }),
    exited,
  };
}

/** The JSON log lines of an output (the one plain "listening on" line aside). */
function logLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('spruce-sync listening on'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

let configs = 0;
function serviceConfig(): string {
  const file = join(dir, `config-${++configs}.yaml`);
  writeFileSync(
    file,
    JSON.stringify({
      server: { port: 0, shutdownTimeoutMs: 30_000 },
      database: { url: `sqlite:${join(dir, `sync-${configs}.db`)}`, synchronous: 'NORMAL' },
      tenants: [
        {
          id: 'acme-pt',
          spry: { baseUrl: 'http://127.0.0.1:9/spry', clientId: 'c', clientSecret: 's', organisationId: 74, webhookSecrets: ['w'], chartUrl: 'https://spry.example/patients/{patientId}' },
          spruce: { baseUrl: 'http://127.0.0.1:9/spruce', accessId: 'a', secretKey: 'k', webhookSecrets: ['w'] },
          schedules: { catchUpOnStart: false, catchUpEveryMinutes: 0, reconcileEveryMinutes: 0 },
        },
      ],
    }),
  );
  return file;
}

const startService = (env: NodeJS.ProcessEnv = {}) =>
  run(['--import', './test/e2e/process-fixtures/fail-on-signal.mjs', 'bin/spruce-sync.js', 'start', '--config', serviceConfig()], env);

describe('the service process', () => {
  it('drains on SIGTERM and exits 0, logging JSON lines', async () => {
    const service = startService();
    await service.waitFor('spruce-sync listening on');
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
    const lines = logLines(service.output());
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['spruce-sync started', 'draining: finishing running jobs, then stopping', 'stopped']));
    expect(lines.find((l) => l.msg === 'draining: finishing running jobs, then stopping')).toMatchObject({ reason: 'SIGTERM', shutdownTimeoutMs: 30_000 });
  });

  it.each([
    ['rejection', 'UNHANDLED_REJECTION', 'Error'],
    ['exception', 'UNCAUGHT_EXCEPTION', 'TypeError'],
  ])('logs an unhandled %s as a code without its message, drains and exits 1', async (failAs, code, cause) => {
    const service = startService({ FAIL_AS: failAs });
    await service.waitFor('spruce-sync listening on');
    service.child.kill('SIGUSR2');
    expect(await service.exited).toBe(1);
    const output = service.output();
    expect(output).not.toContain('Jane Doe');
    expect(output).not.toContain('1970-01-01');
    const lines = logLines(output);
    expect(lines).toEqual(expect.arrayContaining([expect.objectContaining({ code, cause, level: 60 }), expect.objectContaining({ msg: 'stopped', exitCode: 1 })]));
  });
});

describe('the drain deadline and a second signal', () => {
  it('exits 1 when the drain outlasts server.shutdownTimeoutMs', async () => {
    const guarded = run(['bin/run-ts.js', 'test/e2e/process-fixtures/hanging-drain.ts', '200']);
    await guarded.waitFor('ready');
    guarded.child.kill('SIGTERM');
    expect(await guarded.exited).toBe(1);
    expect(logLines(guarded.output().replace('ready\n', ''))).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'SHUTDOWN_TIMEOUT', shutdownTimeoutMs: 200 })]));
  });

  it('exits at once on a second signal while draining', async () => {
    const guarded = run(['bin/run-ts.js', 'test/e2e/process-fixtures/hanging-drain.ts', '600000']);
    await guarded.waitFor('ready');
    guarded.child.kill('SIGINT');
    await guarded.waitFor('draining');
    guarded.child.kill('SIGTERM');
    expect(await guarded.exited).toBe(143);
    expect(logLines(guarded.output().replace('ready\n', ''))).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'SHUTDOWN_FORCED', signal: 'SIGTERM' })]));
  });
});
