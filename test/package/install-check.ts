// The release check: what a clinic's installer does with the package, done for real.
//   1. `npm pack` (prepack runs the release build) gives the tarball we would ship;
//   2. `npm install --omit=dev <tarball>` into an empty folder (no tsx, no sources, no repo) whose
//      package.json approves better-sqlite3's install script, with no npm warning of an engine
//      refusing our Node or of another install script;
//   3. there, the installed `spruce-sync sandbox --service-url …` starts the simulators from the
//      package and writes a config, and the installed `spruce-sync start` runs on it;
//   4. /healthz answers, the dashboard takes the written admin token, one patient registered in
//      Spry arrives in Spruce as one linked contact; SIGTERM stops both cleanly;
//   5. the installed `spruce-sync demo --once` runs to a clean outcome.
// The install compiles better-sqlite3 (~2 min of CPU), so this is not part of `npm test`:
// `npm run test:package` runs it, and CI (.ci/run) runs it after the tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/sandbox/environment.ts';

const SPRY_ORG = 74;
const repo = path.resolve(import.meta.dirname, '../..');
const keep = process.argv.includes('--keep');

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'spruce-sync-package-'));
  const app = path.join(work, 'app');
  const children: ChildProcess[] = [];
  try {
    const tarball = pack(work);
    await mkdir(app);
    // As docs/deployment.md has a clinic do: better-sqlite3's native build approved for npm's
    // allowScripts policy (a later npm skips unapproved install scripts).
    await writeFile(path.join(app, 'package.json'), JSON.stringify({ private: true, allowScripts: { 'better-sqlite3': true } }));
    const install = run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', tarball], app);
    // Nothing the install chose may refuse our Node (light-my-request 6.8 brings cookie 2, which
    // wants Node 22; package.json's overrides do not reach a tarball's install: docs/ARCHITECTURE.md).
    check(!/EBADENGINE/.test(install.stderr), `every installed package accepts Node ${process.version} (npm warned EBADENGINE)`);
    check(!/install-scripts/.test(install.stderr), 'no install script of the runtime dependencies is left unapproved (npm warned install-scripts)');
    console.log(`ok: the install brought no package whose engines refuse Node ${process.version}, and no unapproved install script`);
    const installed = path.join(app, 'node_modules', 'spruce-sync');
    check(!existsSync(path.join(installed, 'src')), 'the package ships no TypeScript sources');
    check(!existsSync(path.join(app, 'node_modules', 'tsx')), 'tsx is not installed with --omit=dev');
    const bin = path.join(app, 'node_modules', '.bin', 'spruce-sync');
    const { version } = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    const reported = spawnSync(bin, ['--version'], { cwd: app, encoding: 'utf8' }).stdout.trim();
    check(reported === version, `spruce-sync --version says ${version} (got "${reported}")`);
    console.log(`ok: the installed spruce-sync --version says ${reported}`);

    const [servicePort, spryPort, sprucePort] = [await freePort(), await freePort(), await freePort()];
    const serviceUrl = `http://127.0.0.1:${servicePort}`;
    const sandbox = launch(bin, ['sandbox', '--patients', '5', '--spry-port', String(spryPort), '--spruce-port', String(sprucePort), '--service-url', serviceUrl, '--write-config', 'config.yaml'], app, work, 'sandbox');
    children.push(sandbox.child);
    await waitFor('the sandbox to write config.yaml', async () => sandbox.output().includes('Config written to'));

    const service = launch(bin, ['start', '--config', 'config.yaml'], app, work, 'service');
    children.push(service.child);
    await waitFor('/healthz to answer 200', async () => (await get(`${serviceUrl}/healthz`))?.status === 200);
    console.log('ok: the installed service answers /healthz');

    const token = /token: (\S+)/.exec(await readFile(path.join(app, 'config.yaml'), 'utf8'))?.[1];
    const tenants = await get(`${serviceUrl}/admin/api/tenants`, { authorization: `Bearer ${token}` });
    check(tenants?.status === 200, 'the admin API accepts the token the sandbox wrote into the config');

    const spry = `http://127.0.0.1:${spryPort}/_sandbox/orgs/${SPRY_ORG}/patients`;
    const created = await fetch(spry, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ first_name: 'Package', last_name: 'Check', date_of_birth: '1990-01-01', mobile: '+15555550142' }),
    });
    check(created.status === 201, `the Spry sandbox registers a patient (got ${created.status})`);
    const { patient_id: patientId } = (await created.json()) as { patient_id: number };
    const externalId = `spry:${SPRY_ORG}:${patientId}`;
    let linked = 0;
    await waitFor('the new patient to reach Spruce', async () => {
      const state = (await (await fetch(`http://127.0.0.1:${sprucePort}/_sandbox/state`)).json()) as {
        contacts: { integrationLinks?: { externalId: string }[] }[];
      };
      linked = state.contacts.filter((c) => (c.integrationLinks ?? []).some((l) => l.externalId === externalId)).length;
      return linked > 0;
    });
    check(linked === 1, `one Spruce contact is linked to the patient (found ${linked})`);
    console.log('ok: a patient registered in Spry was synced to one linked Spruce contact');

    const codes = await Promise.all([stop(service.child), stop(sandbox.child)]);
    check(codes[0] === 0, `the service exits 0 on SIGTERM (got ${codes[0]})`);
    console.log('ok: the installed service stopped cleanly on SIGTERM');

    // The demo from the package: simulators, service and its far-side checks, all from dist/.
    const demo = spawnSync(bin, ['demo', '--once', '--port', '0', '--spry-port', '0', '--spruce-port', '0', '--patients', '20'], {
      cwd: app,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      encoding: 'utf8',
      timeout: 5 * 60_000,
    });
    if (demo.status !== 0) console.error(demo.stdout, demo.stderr);
    check(demo.status === 0 && !demo.stdout.includes('✗'), `the installed demo runs to a clean outcome (exit ${demo.status})`);
    console.log('ok: the installed demo ran every step and its checks passed');
    console.log(`\nPackage check passed: ${path.basename(tarball)}`);
  } catch (error) {
    for (const name of ['sandbox', 'service']) {
      const log = path.join(work, `${name}.log`);
      if (existsSync(log)) console.error(`--- ${name} output ---\n${await readFile(log, 'utf8')}`);
    }
    throw error;
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (keep) console.log(`kept ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
}

/** Packs the repo as it would be published; returns the tarball's path. */
function pack(into: string): string {
  const { stdout } = run('npm', ['pack', '--json', '--pack-destination', into], repo);
  const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  const shipped = info!.files.map((f) => f.path);
  for (const needed of ['bin/spruce-sync.js', 'dist/cli/main.js', 'web/index.html', 'specs/spruce-openapi.json', 'CHANGELOG.md']) {
    check(shipped.includes(needed), `the tarball contains ${needed}`);
  }
  check(!shipped.some((f) => f.endsWith('.ts')), 'the tarball contains no .ts files');
  console.log(`ok: packed ${info!.filename} (${shipped.length} files)`);
  return path.join(into, info!.filename);
}

function run(command: string, args: string[], cwd: string): { stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15 * 60_000 });
  process.stderr.write(result.stderr ?? '');
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal})`);
  return { stdout: result.stdout, stderr: result.stderr };
}

/** Starts an installed command with a clean environment (no repo on any path) and logs its output. */
function launch(bin: string, args: string[], cwd: string, logDir: string, name: string) {
  const child = spawn(bin, args, { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(path.join(logDir, `${name}.log`));
  let text = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      log.write(chunk);
    });
  }
  return { child, output: () => text };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Response | undefined> {
  try {
    return await fetch(url, { headers });
  } catch {
    return undefined;
  }
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const force = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (code) => {
      clearTimeout(force);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`package check failed: ${what}`);
}

await main();
