// The contract's commands as an operator runs them: `oo serve`, `oo worker` and `oo audit export`,
// from the built binary, against a real redis-server and the Slack stand-in.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackStandin } from '../../../src/testing/slack-standin.js';
import { freeLoopbackPort, startRedisServer, type TestRedisServer } from '../../../src/testing/redis-server.js';
import { ALERT_TOKEN, alertmanagerBody, waitFor } from './harness.js';

const root = path.resolve(import.meta.dirname, '../../..');
const KEY = readFileSync(path.join(root, 'test/unit/ssh/fixtures/ed25519.pub'), 'utf8').trim();
let redis: TestRedisServer;
let standin: SlackStandin;
let dir: string;
let configFile: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  standin = await SlackStandin.start({ channels: [{ id: 'C0OPS', name: 'ops' }] });
  dir = await mkdtemp(path.join(tmpdir(), 'oo-cli-'));
  configFile = path.join(dir, 'oo.yaml');
  const sshPort = await freeLoopbackPort();
  await writeFile(
    configFile,
    stringify({
      hosts: { 'docs-1': { address: '127.0.0.1', port: sshPort, user: 'ops', hostKey: KEY, processManager: 'supervisor' } },
      slack: { channel: 'C0OPS' },
      policy: { approvers: { low: ['U0ALICE'], medium: ['U0ALICE'], high: ['U0ALICE', 'U0CAROL'] }, channels: ['C0OPS'] },
      redis: { prefix: 'tcli' },
      workers: { diagnosisAttempts: 1 },
    }),
  );
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await standin?.close();
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

function oo(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [path.join(root, 'bin/oo.js'), ...args], {
    env: { PATH: process.env.PATH ?? '', SLACK_BOT_TOKEN: standin.botToken, SLACK_API_URL: standin.apiUrl, REDIS_URL: redis.url, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function ready(port: number) {
  return waitFor('the service to be ready', async () => {
    try {
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
    } catch {
      return false;
    }
  }, 30_000, 200);
}

describe('oo serve / oo worker / oo audit export', () => {
  it('serve takes alerts, posts the incident thread, and stops cleanly on SIGTERM', async () => {
    const port = await freeLoopbackPort();
    const serve = oo(['serve', '--config', configFile], { PORT: String(port), SLACK_SIGNING_SECRET: 'secret', OO_ALERT_TOKEN: ALERT_TOKEN });
    await ready(port);
    const response = await fetch(`http://127.0.0.1:${port}/alerts/alertmanager`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALERT_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(alertmanagerBody([{ alertname: 'OnlyofficeDown', instance: 'docs-1:9100' }])),
    });
    expect(response.status).toBe(202);
    await waitFor('the parent message', () => standin.messages('C0OPS')[0], 30_000);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('oo_alerts_received_total{source="alertmanager"} 1');
    expect(metrics).toMatch(/oo_queue_jobs\{queue="diagnosis",state="\w+"\} \d+/);
    await waitFor('the findings', () => standin.thread('C0OPS', standin.messages('C0OPS')[0]!.ts).replies.some((reply) => reply.text.startsWith('docs-1: unreachable')), 30_000);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(serve.err()).toContain('SIGTERM received');
  }, 90_000);

  it('worker serves health but no webhooks, and stops on SIGINT', async () => {
    const port = await freeLoopbackPort();
    const worker = oo(['worker', '--config', configFile], { PORT: String(port) });
    await ready(port);
    expect((await fetch(`http://127.0.0.1:${port}/alerts/generic`, { method: 'POST', body: '{}' })).status).toBe(404);
    worker.child.kill('SIGINT');
    expect(await worker.exited).toBe(0);
  }, 60_000);

  it('serve refuses to start without its secrets, naming them (exit 2)', async () => {
    const serve = oo(['serve', '--config', configFile], { PORT: '0' });
    expect(await serve.exited).toBe(2);
    expect(serve.err()).toContain('SLACK_SIGNING_SECRET is not set');
    expect(serve.err()).toContain('OO_ALERT_TOKEN is not set');
  });

  it('audit export writes the trail as JSON Lines', async () => {
    const file = path.join(dir, 'audit.jsonl');
    const exported = oo(['audit', 'export', '--config', configFile, '--out', file, '--kind', 'alert'], {});
    expect(await exported.exited).toBe(0);
    const lines = (await readFile(file, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
    expect(lines[0]).toMatchObject({ kind: 'alert', actor: 'alertmanager', host: 'docs-1', outcome: 'firing x1' });
    const bad = oo(['audit', 'export', '--config', configFile, '--kind', 'nope'], {});
    expect(await bad.exited).toBe(2);
    expect(bad.err()).toContain('--kind must be one of');
  });
});
