// The composition root: builds everything `oo serve` and `oo worker` run from oo.yaml and the
// environment, starts it, and stops it in the reverse order (HTTP first, so nothing new arrives; then
// the Slack connection, the alert processor and the workers, which finish what they hold; then the
// Slack outbox drains; Redis and SSH last).
import { WebClient } from '@slack/web-api';
import type { Server } from 'node:http';
import type { Config } from '../config/index.js';
import { IncidentStore } from '../incidents/store.js';
import { OoQueues } from '../queue/queues.js';
import { createRedisClient, describeConnection, withTimeout } from '../queue/redis.js';
import { redactSecrets } from '../security/redact.js';
import { PendingActionStore } from '../remediation/actions.js';
import { AuditLog } from '../remediation/audit.js';
import { bindRunbook, defaultRunbook, type BoundRunbook } from '../runbooks/index.js';
import { createSlackApp, type SlackApp } from '../slack/bolt.js';
import { explainText, renderExplanation } from '../slack/explain.js';
import { SlackOutbox } from '../slack/outbox.js';
import { SshPool } from '../ssh/index.js';
import { closeServer, createHttpServer, listen, type Readiness } from '../server/http.js';
import { Metrics, type GaugeSample } from '../server/metrics.js';
import { AlertHandler, AlertIntake, AlertProcessor } from './alerts.js';
import { Approvals } from './approvals.js';
import { approvalsWaiting } from './approvals-waiting.js';
import { Commands } from './commands.js';
import { FindingsMessages } from './findings.js';
import { IncidentThreads } from './incident-threads.js';
import { createLogger, type AppLogger } from './logger.js';
import { resolveSettings, type ServiceMode, type ServiceSettings } from './settings.js';
import { startWorkers, type Workers, type WorkersOptions } from './workers.js';

export { resolveRedisConnection, resolveSettings, SettingsError, type ServiceSettings, type ServiceMode } from './settings.js';

export interface StartServiceOptions {
  config: Config;
  mode: ServiceMode;
  env?: NodeJS.ProcessEnv;
  logger?: AppLogger;
  /** Address to listen on, over OO_HOST and server.host; default all interfaces (tests pass 127.0.0.1). */
  host?: string;
  /** Test knobs for the remediation worker's lease and reaper. */
  remediation?: WorkersOptions['remediation'];
  /** How long a Slack Web API call may take before it is given up (and, for a post, checked). Default 15 s. */
  slackTimeoutMs?: number;
  /** Socket Mode's pong timeout, also its pause before reconnecting (default 5 s; tests shorten it). */
  socketModePingTimeoutMs?: number;
}

export interface RunningService {
  settings: ServiceSettings;
  /** The HTTP port actually bound. */
  port: number;
  slack?: SlackApp;
  queues: OoQueues;
  incidents: IncidentStore;
  actions: PendingActionStore;
  audit: AuditLog;
  outbox: SlackOutbox;
  threads: IncidentThreads;
  findings: FindingsMessages;
  runbook: BoundRunbook;
  metrics: Metrics;
  alertProcessor?: AlertProcessor;
  workers: Workers;
  readiness(): Promise<Readiness>;
  close(): Promise<void>;
}

/** How long a Slack readiness answer is reused. */
const SLACK_CHECK_EVERY_MS = 5000;

export async function startService(options: StartServiceOptions): Promise<RunningService> {
  const { config, mode } = options;
  const settings = resolveSettings(config, options.env ?? process.env, mode);
  const logger = options.logger ?? createLogger({ level: settings.logLevel });
  const onError = (error: unknown, context: string) => logger.error(`${context}:`, error);
  const metrics = new Metrics();

  const queues = new OoQueues({
    redis: settings.redis,
    prefix: settings.redisPrefix,
    diagnosis: { attempts: config.workers.diagnosisAttempts, backoffMs: config.workers.diagnosisBackoffMs },
    enqueueTimeoutMs: 2500,
    onError,
  });
  const cleanups: (() => Promise<unknown>)[] = [() => queues.close()];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => onError(error, 'shutting down'));
  };
  try {
    await queues.ready(15_000);
    // Stores used by workers wait for Redis through a blip; request paths use the fail-fast producer.
    const state = queues.workerConnection();
    const keys = queues.keys;
    const incidents = new IncidentStore(state, keys);
    const actions = new PendingActionStore(state, keys);
    const audit = new AuditLog(state, keys);
    const runbook = bindRunbook(defaultRunbook());
    const pool = new SshPool({
      connectTimeoutMs: config.ssh.connectTimeoutMs,
      keepaliveIntervalMs: config.ssh.keepaliveIntervalMs,
      maxSessionsPerConnection: config.ssh.maxSessionsPerConnection,
    });
    cleanups.push(() => pool.close());

    const slackClient = (retries: number) =>
      new WebClient(settings.botToken, {
        ...(settings.slackApiUrl ? { slackApiUrl: settings.slackApiUrl } : {}),
        rejectRateLimitedCalls: true,
        retryConfig: { retries, factor: 2, minTimeout: 200, maxTimeout: 2000 },
        timeout: options.slackTimeoutMs ?? 15_000,
        logger,
      });
    // Reads (auth.test, usergroups) may retry by themselves. The outbox's client never does: a post whose
    // answer was lost would be sent again blind; the outbox retries, and first asks Slack whether it landed.
    const client = slackClient(2);
    const outboxClient = slackClient(0);
    const outbox = new SlackOutbox(outboxClient, {
      postEveryMs: settings.postEveryMs,
      onError,
      metrics: { onCall: (method, outcome) => metrics.inc('oo_slack_calls_total', { method, outcome }) },
    });
    cleanups.push(() => outbox.close(10_000));

    const threads = new IncidentThreads({ redis: state, prefix: keys.prefix, incidents, outbox, logger });
    const findings = new FindingsMessages({
      redis: state,
      prefix: keys.prefix,
      outbox,
      threads,
      actions,
      audit,
      runbook,
      ...(settings.policy ? { policy: settings.policy } : {}),
      actionTtlMs: settings.actionTtlMs,
    });

    const workers = startWorkers({
      config,
      queues,
      incidents,
      actions,
      audit,
      threads,
      findings,
      outbox,
      runbook,
      pool,
      logger,
      metrics,
      progressEveryMs: settings.progressEveryMs,
      progressAfterMs: settings.progressAfterMs,
      ...(options.remediation ? { remediation: options.remediation } : {}),
    });
    cleanups.push(() => workers.close());
    await workers.ready();

    metrics.collect(async () => {
      const samples: GaugeSample[] = [];
      for (const queue of [queues.diagnosis, queues.remediation]) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
        for (const [stateName, value] of Object.entries(counts)) samples.push({ name: 'oo_queue_jobs', labels: { queue: queue.name, state: stateName }, value });
      }
      samples.push({ name: 'oo_incidents_open', value: (await incidents.listOpen(10_000)).length });
      samples.push({ name: 'oo_slack_outbox_pending', value: outbox.pending() });
      const waiting = await approvalsWaiting(state, `${keys.prefix}:action:`);
      samples.push({ name: 'oo_approvals_waiting', value: waiting.count });
      samples.push({ name: 'oo_approval_oldest_wait_seconds', value: waiting.oldestAgeMs / 1000 });
      return samples;
    });

    let slack: SlackApp | undefined;
    let alertProcessor: AlertProcessor | undefined;
    let httpAlerts: Parameters<typeof createHttpServer>[0]['alerts'];
    if (mode === 'serve') {
      const approvals = new Approvals({
        actions,
        incidents,
        queues,
        audit,
        threads,
        findings,
        client,
        ...(settings.policy ? { policy: settings.policy } : {}),
        logger,
      });
      const commands = new Commands({
        config,
        runbook,
        queues,
        incidents,
        threads,
        audit,
        outbox,
        ...(settings.policy ? { policy: settings.policy } : {}),
        ...(settings.alertChannel ? { alertChannel: settings.alertChannel } : {}),
        logger,
        metrics,
      });
      slack = createSlackApp({
        botToken: settings.botToken,
        ...(settings.signingSecret ? { signingSecret: settings.signingSecret } : {}),
        ...(settings.appToken ? { appToken: settings.appToken } : {}),
        ...(settings.slackApiUrl ? { slackApiUrl: settings.slackApiUrl } : {}),
        ...(options.socketModePingTimeoutMs !== undefined ? { socketModePingTimeoutMs: options.socketModePingTimeoutMs } : {}),
        logger: logger.child('bolt'),
        handlers: {
          command: (input) => commands.handle(input),
          async click(input) {
            const outcome = await approvals.click(input);
            metrics.inc('oo_approval_clicks_total', { result: outcome.result === 'refused' ? outcome.code : outcome.result });
            if (outcome.result === 'queued') return { text: ':gear: Approved: the remediation is queued and runs once; results appear in the thread.' };
            if (outcome.result === 'waiting_second_approver') return { text: ':hourglass: Approved by you; a second approver is needed (high risk).' };
            return { text: `:no_entry: Not run: ${outcome.reason}.` };
          },
          async explainMessage(input) {
            const rendered = renderExplanation(explainText(input.text, runbook, 'this message'));
            await audit.record({ kind: 'request', actor: input.userId, action: 'explain', outcome: 'explained', detail: `channel ${input.channelId}` });
            return { text: rendered.text, blocks: rendered.blocks };
          },
          ephemeral: (channel, user, content, threadTs) => outbox.ephemeral(channel, user, content, threadTs),
          onError,
        },
      });

      const blocking = createRedisClient(settings.redis, 'worker', { connectionName: 'oo-alerts' });
      blocking.on('error', (error) => onError(error, 'redis alert-stream connection'));
      cleanups.push(async () => blocking.quit().catch(() => blocking.disconnect()));
      const handler = new AlertHandler({
        config,
        channel: settings.alertChannel!,
        incidents,
        threads,
        queues,
        audit,
        redis: state,
        logger,
        metrics,
      });
      alertProcessor = new AlertProcessor({ redis: blocking, prefix: keys.prefix, handler, logger });
      await alertProcessor.start();
      const processor = alertProcessor;
      cleanups.push(() => processor.stop());
      httpAlerts = {
        token: settings.alertToken!,
        sink: new AlertIntake(queues.producer, keys.prefix, 3000, logger.child('alerts')),
        maxBodyBytes: config.alerts.maxBodyBytes,
        maxAlertsPerBody: config.alerts.maxAlertsPerBody,
      };
      await slack.start();
      const started = slack;
      cleanups.push(() => started.stop());
    }

    // Slack: both modes post through the Web API, so readiness asks it (auth.test, which also proves
    // the token) at most every few seconds, so probes every second do not become Slack traffic.
    let slackChecked: { at: number; result: Promise<string> } | undefined;
    const slackCheck = (): Promise<string> => {
      const now = Date.now();
      if (slackChecked && now - slackChecked.at < SLACK_CHECK_EVERY_MS) return slackChecked.result;
      const result = withTimeout(client.auth.test(), 3000, 'asking Slack (auth.test)').then(
        () => 'ok',
        (error: unknown) => `unreachable (${redactSecrets((error as Error).message).slice(0, 200)})`,
      );
      slackChecked = { at: now, result };
      return result;
    };
    const readiness = async (): Promise<Readiness> => {
      const checks: Record<string, string> = {};
      checks.redis = queues.producer.status === 'ready' ? 'ok' : `not connected (${queues.producer.status})`;
      checks.slack = await slackCheck();
      // Socket Mode: commands and clicks arrive over the WebSocket, so it must be connected too.
      if (slack?.socketMode) checks.slack_socket = slack.socketMode.check();
      checks.workers = workers.diagnosis.worker.isRunning() && workers.remediation.worker.isRunning() ? 'ok' : 'stopped';
      return { ready: Object.values(checks).every((value) => value === 'ok'), checks };
    };

    const server: Server = createHttpServer({
      ...(slack?.requestListener ? { slackEvents: slack.requestListener } : {}),
      ...(httpAlerts ? { alerts: httpAlerts } : {}),
      readiness,
      metrics,
      onError,
    });
    const host = options.host ?? settings.host;
    const port = await listen(server, settings.port, host);
    cleanups.push(() => closeServer(server));
    logger.info(
      `oo ${mode} listening on ${host ?? '*'}:${port}${slack ? ` (Slack ${slack.mode} mode)` : ''}; Redis: ${describeConnection(settings.redis)}, prefix ${keys.prefix}`,
    );

    let closing: Promise<void> | undefined;
    return {
      settings,
      port,
      ...(slack ? { slack } : {}),
      queues,
      incidents,
      actions,
      audit,
      outbox,
      threads,
      findings,
      runbook,
      metrics,
      ...(alertProcessor ? { alertProcessor } : {}),
      workers,
      readiness,
      close() {
        closing ??= cleanup();
        return closing;
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
