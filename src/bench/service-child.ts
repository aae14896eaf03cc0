/**
 * The whole service as `oo serve` runs it (startService: HTTP endpoints, alert processor, workers,
 * Slack outbox, one SSH pool), in a process of its own so its event loop and its memory are its own.
 * Forked by the alert and storm benchmarks (service-rig.ts) with the environment `oo serve` reads
 * (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL, REDIS_URL, OO_ALERT_TOKEN, PORT=0); listens on
 * 127.0.0.1 only. Answers the parent's questions over IPC: open incidents, whether the outbox is idle,
 * its memory; closes on request or when the parent goes away.
 *
 *   node service-child.js CONFIG
 */
import { LogLevel } from '@slack/bolt';

import { startService, type RunningService } from '../app/index.js';
import { createLogger } from '../app/logger.js';
import { loadConfig } from '../config/index.js';

export interface IncidentBrief {
  key: string;
  host: string | null;
  threadTs: string | null;
  alerts: number;
  status: string;
  firstDiagnosisAt: string | null;
}

export type ServiceRequest =
  | { id: number; type: 'incidents' }
  | { id: number; type: 'idle'; timeoutMs: number }
  | { id: number; type: 'memory' }
  | { id: number; type: 'close' };

export type ServiceReply =
  | { type: 'ready'; port: number }
  | { type: 'failed'; error: string }
  | { id: number; type: 'incidents'; incidents: IncidentBrief[]; diagnosisJobs: Record<string, number> }
  | { id: number; type: 'idle'; idle: boolean }
  | { id: number; type: 'memory'; rssKiB: number; maxRssKiB: number }
  | { id: number; type: 'closed'; maxRssKiB: number }
  | { id: number; type: 'error'; error: string };

/** At most this many log lines are kept for the parent to print on failure. */
const MAX_ERROR_LINES = 200;

async function answer(service: RunningService, request: ServiceRequest): Promise<ServiceReply> {
  switch (request.type) {
    case 'incidents': {
      const open = await service.incidents.listOpen(10_000);
      const diagnosisJobs = await service.queues.diagnosis.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
      return {
        id: request.id,
        type: 'incidents',
        incidents: open.map((incident) => ({
          key: incident.key,
          host: incident.host ?? null,
          threadTs: incident.threadTs ?? null,
          alerts: incident.alerts,
          status: incident.status,
          firstDiagnosisAt: incident.firstDiagnosisAt ?? null,
        })),
        diagnosisJobs,
      };
    }
    case 'idle':
      return { id: request.id, type: 'idle', idle: await service.outbox.idle(request.timeoutMs) };
    case 'memory':
      return { id: request.id, type: 'memory', rssKiB: Math.round(process.memoryUsage().rss / 1024), maxRssKiB: process.resourceUsage().maxRSS };
    case 'close':
      await service.close();
      return { id: request.id, type: 'closed', maxRssKiB: process.resourceUsage().maxRSS };
  }
}

async function main(argv: string[]): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) throw new Error('service-child needs an IPC channel (start it with child_process.fork)');
  const [configFile] = argv;
  if (!configFile) throw new Error('usage: service-child.js CONFIG');
  const config = await loadConfig(configFile);
  let written = 0;
  const service = await startService({
    config,
    mode: 'serve',
    host: '127.0.0.1',
    env: process.env,
    logger: createLogger({
      level: LogLevel.WARN,
      write: (line) => {
        // Warnings and errors go to the parent's stderr, a bounded number of them.
        if (written < MAX_ERROR_LINES) process.stderr.write(`[service] ${line}`);
        written += 1;
      },
    }),
  });
  let queue: Promise<void> = Promise.resolve();
  process.on('message', (request: ServiceRequest) => {
    queue = queue.then(async () => {
      let reply: ServiceReply;
      try {
        reply = await answer(service, request);
      } catch (error) {
        reply = { id: request.id, type: 'error', error: (error as Error).message };
      }
      send(reply, () => {
        if (reply.type === 'closed') process.disconnect();
      });
    });
  });
  process.on('disconnect', () => {
    void service.close().finally(() => process.exit(0));
  });
  send({ type: 'ready', port: service.port } satisfies ServiceReply);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`service-child: ${message}\n`);
  if (process.send) process.send({ type: 'failed', error: message } satisfies ServiceReply, () => process.exit(1));
  else process.exit(1);
});
