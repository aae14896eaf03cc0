// The two workers, wired to SSH, the runbook and Slack. A diagnosis posts a status message in its
// incident's thread, edits it (throttled) as steps finish, then posts the findings with their buttons.
// A remediation runs once (RemediationWorker's records), then its message shows who approved, what ran,
// the output and whether the host probed healthy again; a verified fix resolves the incident.
import { ALERT_SOURCES } from '../alerts/types.js';
import { resolveHost, UnknownTargetError, type Config, type ResolvedHost } from '../config/index.js';
import { diagnoseHost } from '../diagnosis/diagnose.js';
import type { Finding } from '../diagnosis/types.js';
import type { IncidentStore } from '../incidents/store.js';
import { DIAGNOSIS_QUEUE, DiagnosisWorker, REMEDIATION_QUEUE, RemediationWorker, type OoQueues, type RemediationJobRef, type RemediationReport } from '../queue/index.js';
import type { PendingActionStore } from '../remediation/actions.js';
import type { AuditLog } from '../remediation/audit.js';
import { remediateHost } from '../remediation/remediate.js';
import type { BoundRunbook } from '../runbooks/index.js';
import { renderProgress, renderRemediationResult, inlineCode, mrkdwnSafe } from '../slack/blocks.js';
import { renderNote } from '../slack/messages.js';
import type { SlackOutbox } from '../slack/outbox.js';
import { DeferredProgress } from '../slack/progress.js';
import { isSshError, type SshPool } from '../ssh/index.js';
import type { FindingsMessages } from './findings.js';
import type { IncidentThreads } from './incident-threads.js';
import type { AppLogger } from './logger.js';
import type { Metrics } from '../server/metrics.js';
import { MANUAL_INCIDENT_PREFIX } from './commands.js';

export interface WorkersOptions {
  config: Config;
  queues: OoQueues;
  incidents: IncidentStore;
  actions: PendingActionStore;
  audit: AuditLog;
  threads: IncidentThreads;
  findings: FindingsMessages;
  outbox: SlackOutbox;
  runbook: BoundRunbook;
  pool: SshPool;
  logger: AppLogger;
  metrics: Metrics;
  progressEveryMs: number;
  /** A diagnosis posts a progress message only once it has run this long. */
  progressAfterMs: number;
  /** Remediation lease and reaper settings (tests shorten them). */
  remediation?: { leaseMs?: number; reapEveryMs?: number; lockDurationMs?: number; stalledIntervalMs?: number };
}

export interface Workers {
  diagnosis: DiagnosisWorker;
  remediation: RemediationWorker;
  ready(): Promise<void>;
  close(): Promise<void>;
}

interface RunningDiagnosis {
  message?: DeferredProgress;
  startedAt: number;
}

export function startWorkers(options: WorkersOptions): Workers {
  const { config, queues, incidents, threads, outbox, runbook, pool, logger, audit, actions, metrics } = options;
  const running = new Map<string, RunningDiagnosis>();
  // Every line about one job carries its incident key and request id (set where the job was queued).
  const jobLogger = (data: { incidentKey?: string | undefined; requestId: string }, jobId: string | undefined) =>
    logger.with({ incident: data.incidentKey, requestId: data.requestId, job: jobId });
  const hostOf = (name: string): ResolvedHost => resolveHost(config, name);
  const onError = (error: unknown, context: string) => logger.error(`${context}:`, error);
  // Every SSH connection goes through here so that failures are counted by reason in one place.
  const connect = async (host: ResolvedHost) => {
    try {
      return await pool.connect(host);
    } catch (error) {
      metrics.inc('oo_ssh_connect_failures_total', { reason: isSshError(error) ? error.reason : 'other' });
      throw error;
    }
  };

  const diagnosis = new DiagnosisWorker(queues, {
    concurrency: config.workers.diagnosisConcurrency,
    onError,
    async diagnose(job, progress) {
      const data = job.data;
      const state: RunningDiagnosis = { startedAt: Date.now() };
      running.set(job.id ?? data.requestId, state);
      jobLogger(data, job.id).with({ host: data.host, attempt: job.attemptsMade + 1 }).info('diagnosis started');
      const incident = await incidents.get(data.incidentKey);
      if (incident?.threadTs) {
        const title = data.verifiesAction ? 'Verifying after an interrupted fix' : 'Diagnosing 502';
        state.message = new DeferredProgress(outbox, { channel: incident.channel, threadTs: incident.threadTs }, renderProgress({ host: data.host, stepsDone: 0, stepsTotal: 0, title }), {
          afterMs: options.progressAfterMs,
          everyMs: options.progressEveryMs,
          onError: (error) => onError(error, 'progress'),
        });
      }
      let host: ResolvedHost;
      try {
        host = hostOf(data.host);
      } catch (error) {
        if (error instanceof UnknownTargetError) {
          return { host: data.host, verdict: 'unknown', causes: [], steps: [], error: `${data.host} is not in this process's inventory` } satisfies Finding;
        }
        throw error;
      }
      return diagnoseHost(host, {
        runbook,
        connect: () => connect(host),
        onStep: (event) => {
          void progress({ done: event.done, total: event.total, step: String(event.step.id) }).catch((error: unknown) => onError(error, 'progress'));
        },
      });
    },
    onProgress(job, value) {
      const state = running.get(job.id ?? job.data.requestId);
      state?.message?.set(
        renderProgress({
          host: job.data.host,
          stepsDone: value.done,
          stepsTotal: value.total,
          ...(value.step ? { currentStep: value.step } : {}),
          elapsedMs: Date.now() - state.startedAt,
        }),
      );
    },
    async onResult(job, finding) {
      const data = job.data;
      const state = running.get(job.id ?? data.requestId);
      running.delete(job.id ?? data.requestId);
      metrics.inc('oo_diagnoses_total', { verdict: finding.verdict });
      metrics.inc('oo_classifications_total', { cause: finding.causes[0]?.id ?? 'none' });
      if (state) metrics.observe('oo_job_duration_seconds', { queue: DIAGNOSIS_QUEUE, outcome: finding.verdict }, (Date.now() - state.startedAt) / 1000);
      for (const step of finding.steps) metrics.observe('oo_step_duration_seconds', { step: String(step.id) }, step.durationMs / 1000);
      const total = finding.steps.length;
      await state?.message?.finish(
        renderProgress({ host: data.host, stepsDone: total, stepsTotal: total, title: 'Diagnosis', elapsedMs: Date.now() - (state?.startedAt ?? Date.now()) }),
      );
      const top = finding.causes[0];
      const summary = `${data.host}: ${finding.verdict}${top ? ` — ${top.id} (${top.title})` : ''}`;
      await audit.record({
        kind: data.verifiesAction ? 'verification' : 'diagnosis',
        actor: 'oo',
        host: data.host,
        incidentKey: data.incidentKey,
        ...(data.verifiesAction ? { action: data.verifiesAction } : {}),
        outcome: finding.verdict,
        detail: summary,
      });
      const incident = await incidents.get(data.incidentKey);
      if (!incident?.threadTs) {
        jobLogger(data, job.id).warn(`diagnosis of ${data.host} finished but incident ${data.incidentKey} has no thread; not posted`);
        return;
      }
      await threads.note(data.incidentKey, data.verifiesAction ? 'verification' : 'diagnosis', summary);
      if (top) await threads.setMeta(data.incidentKey, { cause: JSON.stringify({ id: top.id, title: top.title }) });
      let host: ResolvedHost | undefined;
      try {
        host = hostOf(data.host);
      } catch {
        host = undefined;
      }
      if (host) {
        const posted = await options.findings.post(incident, finding, host, data.requestedBy);
        jobLogger(data, job.id)
          .with({ host: data.host, verdict: finding.verdict, cause: top?.id, slackTs: posted.ts, offered: posted.offered.length })
          .info('findings posted to Slack');
      } else await threads.reply(incident, renderNote(`:warning: ${inlineCode(data.host)} is not in the inventory any more; findings not shown.`));
      // Alert diagnoses are enqueued only when an alert opens (or reopens) the incident, so each one's
      // finding is the first for that opening: from the latest open/reopen to now is the time from the
      // alert to its first finding (openedAt keeps the first opening, so a reopen is read from the timeline).
      if (!data.verifiesAction && (ALERT_SOURCES as readonly string[]).includes(data.requestedBy)) {
        const opening = [...incident.timeline].reverse().find((entry) => entry.kind === 'open' || entry.kind === 'reopen')?.at ?? incident.openedAt;
        metrics.observe('oo_alert_to_finding_seconds', {}, (Date.now() - Date.parse(opening)) / 1000);
      }
      if (data.verifiesAction && finding.verdict === 'healthy') {
        await threads.resolve(data.incidentKey, `verified healthy after the interrupted remediation ${data.verifiesAction}`);
      } else if (!data.verifiesAction && finding.verdict === 'healthy' && data.incidentKey.startsWith(MANUAL_INCIDENT_PREFIX)) {
        // A requested check that finds nothing wrong closes its own incident; an alert's incident
        // stays open until its alerts resolve or a fix is verified.
        await threads.resolve(data.incidentKey, `${data.host} found healthy`);
      }
    },
    onFailed(job, error) {
      if (!job) return;
      const data = job.data;
      const state = running.get(job.id ?? data.requestId);
      running.delete(job.id ?? data.requestId);
      // A progress message not yet shown never will be; one that is shown says where it stopped.
      void state?.message
        ?.finish(renderProgress({ host: data.host, stepsDone: 0, stepsTotal: 0, title: 'Diagnosis failed', elapsedMs: Date.now() - state.startedAt }))
        .catch((failure: unknown) => onError(failure, 'progress'));
      metrics.inc('oo_diagnoses_total', { verdict: 'failed' });
      if (job.processedOn) metrics.observe('oo_job_duration_seconds', { queue: DIAGNOSIS_QUEUE, outcome: 'failed' }, (Date.now() - job.processedOn) / 1000);
      void (async () => {
        const incident = await incidents.get(data.incidentKey);
        if (incident?.threadTs) {
          await threads.reply(
            incident,
            renderNote(`:x: The diagnosis of ${inlineCode(data.host)} failed after ${job.attemptsMade} tries: ${mrkdwnSafe(error.message)}`),
          );
        }
        await audit.record({ kind: 'diagnosis', actor: 'oo', host: data.host, incidentKey: data.incidentKey, outcome: 'failed', detail: error.message });
      })().catch((failure: unknown) => onError(failure, 'reporting a failed diagnosis'));
    },
  });

  const reportRemediation = async (job: RemediationJobRef, report: RemediationReport): Promise<void> => {
    const data = job.data;
    const action = await actions.get(data.actionId);
    jobLogger({ incidentKey: data.incidentKey ?? action?.incidentKey, requestId: data.requestId }, job.id)
      .with({ host: data.host, remediation: data.remediationId, action: data.actionId, status: report.status })
      .info('remediation finished');
    const incidentKey = data.incidentKey ?? action?.incidentKey;
    const title = action?.title ?? data.remediationId;
    const approvedBy = data.approvedBy.join(',');
    if (report.status === 'refused') {
      await audit.record({ kind: 'remediation', actor: approvedBy, host: data.host, incidentKey, action: data.remediationId, outcome: `refused: ${report.reason}` });
      if (action?.messageTs) {
        await options.findings.setStatus(action.channel, action.messageTs, data.actionId, [
          { type: 'context', elements: [{ type: 'mrkdwn', text: `:no_entry: ${mrkdwnSafe(title)} did not run: ${report.reason === 'host_busy' ? 'the host stayed busy' : 'it already ran'}.` }] },
        ]);
      }
      return;
    }
    if (report.status === 'unknown') {
      metrics.inc('oo_remediations_total', { status: 'unknown' });
      await actions.finish(data.actionId, 'unknown').catch(() => false);
      await audit.record({ kind: 'remediation', actor: approvedBy, host: data.host, incidentKey, action: data.remediationId, command: action?.command, outcome: 'unknown', detail: report.reason });
      if (incidentKey) await threads.note(incidentKey, 'remediation', `${title} on ${data.host}: result unknown (${report.reason}); verification diagnosis queued`);
      if (action?.messageTs) {
        await options.findings.setStatus(action.channel, action.messageTs, data.actionId, [
          {
            type: 'section',
            text: { type: 'mrkdwn', text: `:grey_question: *${mrkdwnSafe(title)}* on ${inlineCode(data.host)}: the worker stopped while it ran, so the result is unknown. It is not run again; a verification diagnosis is queued.` },
          },
        ]);
      }
      return;
    }
    const outcome = report;
    metrics.inc('oo_remediations_total', { status: outcome.status });
    metrics.observe('oo_job_duration_seconds', { queue: REMEDIATION_QUEUE, outcome: outcome.status }, (Date.parse(outcome.finishedAt) - Date.parse(outcome.startedAt)) / 1000);
    await actions.finish(data.actionId, outcome.status).catch(() => false);
    const main = outcome.steps.find((step) => step.id === data.remediationId) ?? outcome.steps[0];
    const precheck = outcome.steps.find((step) => step.id === `${data.remediationId}:precheck`);
    const command = main?.command ?? action?.command ?? data.remediationId;
    const verificationDetail =
      outcome.status === 'verified'
        ? 'the causes it fixes are gone'
        : outcome.status === 'precheck_failed'
          ? `the pre-check ${precheck?.command ?? ''} failed, so nothing was changed`
          : outcome.status === 'failed'
            ? `the command failed${outcome.rolledBack ? ' and was rolled back' : ''}`
            : `still seen: ${outcome.remaining.map((cause) => cause.id).join(', ') || 'a fault'}${outcome.rolledBack ? ' (rolled back)' : ''}`;
    const rendered = renderRemediationResult({
      host: data.host,
      title: outcome.status === 'precheck_failed' ? `${title} — pre-check failed, nothing changed` : title,
      remediationId: data.remediationId,
      command,
      approvedBy: data.approvedBy[0] ?? 'unknown',
      ...(action?.requestedBy && /^[UW]/.test(action.requestedBy) ? { requestedBy: action.requestedBy } : {}),
      exitCode: main?.exitCode ?? null,
      durationMs: Date.parse(outcome.finishedAt) - Date.parse(outcome.startedAt),
      ...(main?.timedOut ? { timedOut: true } : {}),
      output: outcome.steps.map((step) => `$ ${step.command}\n${step.output}`).join('\n'),
      verified: { healthy: outcome.status === 'verified', detail: verificationDetail },
    });
    // Every command that ran is audited: the remediation's own (pre-check, command, rollback) as
    // `remediation`, the re-probing diagnosis steps as `verification`.
    for (const step of outcome.steps) {
      const own = step.id === data.remediationId || String(step.id).startsWith(`${data.remediationId}:`);
      await audit.record({
        kind: own ? 'remediation' : 'verification',
        actor: own ? approvedBy : 'oo',
        host: data.host,
        incidentKey,
        action: String(step.id),
        command: step.command,
        outcome: step.timedOut ? 'timed out' : `exit ${step.exitCode ?? '-'}`,
      });
    }
    await audit.record({ kind: 'verification', actor: 'oo', host: data.host, incidentKey, action: data.remediationId, outcome: outcome.status, detail: verificationDetail });
    if (action?.messageTs) await options.findings.setStatus(action.channel, action.messageTs, data.actionId, rendered.blocks);
    if (incidentKey) {
      await threads.note(incidentKey, 'remediation', `${title} on ${data.host} approved by ${approvedBy}: ${command.split('\n')[0]}`);
      await threads.note(incidentKey, 'verification', `${data.host}: ${outcome.status} — ${verificationDetail}`);
      const incident = await incidents.get(incidentKey);
      if (incident?.threadTs) {
        const mark = outcome.status === 'verified' ? ':white_check_mark:' : ':x:';
        await threads.reply(incident, renderNote(`${mark} *${mrkdwnSafe(title)}* on ${inlineCode(data.host)}: ${outcome.status.replace('_', ' ')} — ${mrkdwnSafe(verificationDetail)}`));
        if (rendered.attachments.length > 0) await outbox.upload(incident.channel, incident.threadTs, rendered.attachments);
      }
      if (outcome.status === 'verified') {
        if (data.approvedBy[0]) await threads.setMeta(incidentKey, { fixedBy: data.approvedBy[0] });
        await threads.resolve(incidentKey, `verified healthy after ${title} on ${data.host}`);
      }
    }
  };

  const remediation = new RemediationWorker(queues, {
    concurrency: config.workers.remediationConcurrency,
    onError,
    ...(options.remediation?.leaseMs !== undefined ? { leaseMs: options.remediation.leaseMs } : {}),
    ...(options.remediation?.reapEveryMs !== undefined ? { reapEveryMs: options.remediation.reapEveryMs } : {}),
    ...(options.remediation?.lockDurationMs !== undefined ? { lockDurationMs: options.remediation.lockDurationMs } : {}),
    ...(options.remediation?.stalledIntervalMs !== undefined ? { stalledIntervalMs: options.remediation.stalledIntervalMs } : {}),
    async remediate(job) {
      jobLogger(job.data, job.id).with({ host: job.data.host, remediation: job.data.remediationId, action: job.data.actionId }).info('remediation started');
      const host = hostOf(job.data.host);
      const runner = await connect(host);
      return remediateHost(host, job.data.remediationId, { runbook, runner });
    },
    onOutcome: reportRemediation,
  });

  return {
    diagnosis,
    remediation,
    async ready() {
      await Promise.all([diagnosis.waitUntilReady(), remediation.ready()]);
    },
    async close() {
      await Promise.allSettled([diagnosis.close(), remediation.close()]);
    },
  };
}
