/**
 * What the alert and storm benchmarks run against: a local redis-server, the Slack Web API stand-in,
 * and the service (service-child.ts) forked with an oo.yaml of the lab's hosts and the environment `oo
 * serve` reads. Alerts reach it as Alertmanager sends them (POST /alerts/alertmanager with the bearer
 * token); what it says in Slack is read back from the stand-in's records. Everything is on loopback
 * (and the lab hosts' namespaces, which the service reaches over SSH).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

import { startRedisServer, type TestRedisServer } from '../testing/redis-server.js';
import { postAlert } from '../testing/slack-requests.js';
import { SlackStandin } from '../testing/slack-standin.js';
import { trackChild } from './processes.js';
import type { IncidentBrief, ServiceReply, ServiceRequest } from './service-child.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SERVICE_CHILD = path.join(HERE, 'service-child.js');

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export const CHANNEL = 'C0OPS';
export const APPROVER = 'U0ALICE';
const SIGNING_SECRET = 'bench-signing-secret-0123456789abcdef';
const ALERT_TOKEN = 'bench-alert-token-0123456789abcdef';

export interface RigOptions {
  /** oo.yaml `hosts:` (lab.inventory()). */
  hosts: Record<string, unknown>;
  /** oo.yaml `slack:` beyond the channel (postEveryMs, progressEveryMs …). */
  slack?: Record<string, unknown>;
  alerts?: Record<string, unknown>;
  workers?: Record<string, unknown>;
  /** The stand-in's chat.postMessage limit per channel; default Slack's (1 a second, bursts of 3). */
  postMessageRate?: { perSecond: number; burst: number } | false;
  /** How long the service may take to start. */
  startTimeoutMs?: number;
}

export interface ServiceRig {
  standin: SlackStandin;
  redis: TestRedisServer;
  base: string;
  pid: number;
  /** The oo.yaml the service runs with (as written). */
  config: Record<string, unknown>;
  /** POST /alerts/alertmanager with the bearer token, as Alertmanager's webhook receiver sends it. */
  alert(body: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  incidents(): Promise<{ incidents: IncidentBrief[]; diagnosisJobs: Record<string, number> }>;
  /** Whether the service's Slack outbox emptied within the time. */
  outboxIdle(timeoutMs: number): Promise<boolean>;
  memory(): Promise<{ rssKiB: number; maxRssKiB: number }>;
  /** The service's established TCP connections to port 22, by socket inode. */
  sshSockets(): Set<string>;
  /** Stops the service (its peak RSS is returned), the stand-in and Redis. */
  close(): Promise<{ maxRssKiB: number | null }>;
}

/** Socket inodes of a process's established IPv4/IPv6 TCP connections to remote port 22. */
export function sshSocketsOf(pid: number): Set<string> {
  const owned = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match) owned.add(match[1]!);
      } catch {
        // Closed while we looked.
      }
    }
  } catch {
    return new Set();
  }
  const found = new Set<string>();
  for (const table of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (fields.length < 10) continue;
      const remotePort = fields[2]?.split(':')[1];
      if (remotePort === '0016' && fields[3] === '01' && owned.has(fields[9]!)) found.add(fields[9]!);
    }
  }
  return found;
}

export async function startServiceRig(options: RigOptions): Promise<ServiceRig> {
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'oo-bench-service-'));
  const redis = await startRedisServer();
  let standin: SlackStandin | undefined;
  let child: ChildProcess | undefined;
  try {
    standin = await SlackStandin.start({
      channels: [{ id: CHANNEL, name: 'ops' }],
      users: [{ id: APPROVER, name: 'alice', real_name: 'Alice Admin' }],
      ...(options.postMessageRate !== undefined ? { postMessageRate: options.postMessageRate } : {}),
    });
    const config = {
      hosts: options.hosts,
      slack: { channel: CHANNEL, ...(options.slack ?? {}) },
      policy: { approvers: { low: [APPROVER], medium: [APPROVER], high: [APPROVER, 'U0CAROL'] }, channels: [CHANNEL] },
      ...(options.alerts ? { alerts: options.alerts } : {}),
      ...(options.workers ? { workers: options.workers } : {}),
      redis: { prefix: 'bench' },
    };
    const configFile = path.join(workDir, 'oo.yaml');
    await writeFile(configFile, stringify(config));
    child = fork(SERVICE_CHILD, [configFile], {
      env: {
        ...process.env,
        SLACK_BOT_TOKEN: standin.botToken,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: standin.apiUrl,
        REDIS_URL: redis.url,
        OO_ALERT_TOKEN: ALERT_TOKEN,
        PORT: '0',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    trackChild(child);
    const running = child;
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the service did not start in time')), options.startTimeoutMs ?? 60_000);
      running.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the service exited while starting (${code ?? signal})`));
      });
      running.on('message', (message: ServiceReply) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve(message.port);
        } else if (message.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`the service did not start: ${message.error}`));
        }
      });
    });

    let nextId = 1;
    const ask = <T extends ServiceReply['type']>(request: WithoutId<ServiceRequest>, expect: T, timeoutMs = 120_000) =>
      new Promise<Extract<ServiceReply, { type: T }>>((resolve, reject) => {
        const id = nextId++;
        const cleanup = () => {
          clearTimeout(timer);
          running.off('message', onMessage);
          running.off('exit', onExit);
        };
        const onMessage = (message: ServiceReply) => {
          if (!('id' in message) || message.id !== id) return;
          cleanup();
          if (message.type === 'error') reject(new Error(`the service could not answer ${request.type}: ${message.error}`));
          else if (message.type !== expect) reject(new Error(`the service answered ${message.type} to ${request.type}`));
          else resolve(message as Extract<ServiceReply, { type: T }>);
        };
        const onExit = () => {
          cleanup();
          reject(new Error(`the service exited while answering ${request.type}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`the service did not answer ${request.type} within ${timeoutMs} ms`));
        }, timeoutMs);
        running.on('message', onMessage);
        running.once('exit', onExit);
        running.send({ ...request, id } as ServiceRequest);
      });

    const base = `http://127.0.0.1:${port}`;
    const stand = standin;
    let closing: Promise<{ maxRssKiB: number | null }> | undefined;
    return {
      standin: stand,
      redis,
      base,
      pid: running.pid!,
      config,
      alert: (body) => postAlert(base, 'alertmanager', body, ALERT_TOKEN),
      incidents: async () => {
        const reply = await ask({ type: 'incidents' }, 'incidents');
        return { incidents: reply.incidents, diagnosisJobs: reply.diagnosisJobs };
      },
      outboxIdle: async (timeoutMs) => (await ask({ type: 'idle', timeoutMs }, 'idle', timeoutMs + 10_000)).idle,
      memory: async () => {
        const reply = await ask({ type: 'memory' }, 'memory');
        return { rssKiB: reply.rssKiB, maxRssKiB: reply.maxRssKiB };
      },
      sshSockets: () => sshSocketsOf(running.pid!),
      close: () =>
        (closing ??= (async () => {
          let maxRssKiB: number | null = null;
          if (running.exitCode === null && running.signalCode === null) {
            try {
              maxRssKiB = (await ask({ type: 'close' }, 'closed', 60_000)).maxRssKiB;
            } catch {
              running.kill('SIGKILL');
            }
          }
          await stand.close();
          await redis.stop();
          await rm(workDir, { recursive: true, force: true });
          return { maxRssKiB };
        })()),
    };
  } catch (error) {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await standin?.close();
    await redis.stop();
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

/** The findings reply of a thread: the bot's message that starts "<host>: <verdict>". */
export function findingsReply<T extends { text: string }>(replies: readonly T[], host: string): T | undefined {
  const prefix = `${host}: `;
  return replies.find((reply) => reply.text.startsWith(prefix) && /^(fault|healthy|unknown|unreachable)\b/.test(reply.text.slice(prefix.length)));
}
