// Root causes on the host itself: dependencies, memory, disk, descriptors, and reaching it at all.
import { normalizeServiceName } from '../parsers/text.js';
import type { Cause } from '../types.js';
import type { CauseId } from '../vocabulary.js';
import { interleave, makeCause } from './cause.js';
import type { Facts } from './facts.js';
import { docserviceProbes, isRunning, statesOf, withState } from './topology.js';

const DEPENDENCY_CAUSE: Record<string, CauseId> = {
  postgres: 'dependency_postgres',
  mysql: 'dependency_postgres',
  rabbitmq: 'dependency_rabbitmq',
  redis: 'dependency_redis',
};

function dependencyName(name: string): string {
  const lower = name.toLowerCase();
  if (/postgres|pgsql/.test(lower)) return 'postgres';
  if (/mysql|mariadb/.test(lower)) return 'mysql';
  if (/rabbit|amqp/.test(lower)) return 'rabbitmq';
  if (/redis/.test(lower)) return 'redis';
  return lower;
}

/**
 * docservice's own /healthcheck asks its database layer (and editor data store) before answering, so
 * a 2xx from it says docservice reaches what it needs, whatever a port check from the host shows.
 */
function docserviceHealthcheckPasses(facts: Facts): boolean {
  const probes = docserviceProbes(facts).filter((probe) => /healthcheck/.test(probe.url));
  return probes.length > 0 && probes.every((probe) => probe.code >= 200 && probe.code < 300);
}

/** docservice cannot work without its database, broker and cache; their failures show in its log. */
export function dependencyCauses(facts: Facts): Cause[] {
  const causes: Cause[] = [];
  const healthcheckPasses = docserviceHealthcheckPasses(facts);
  for (const dependency of ['rabbitmq', 'redis', 'postgres', 'mysql']) {
    const logLines = facts.logFindings.filter((finding) => finding.dependency === dependency);
    const checks = facts.dependencies.filter((check) => dependencyName(check.dependency) === dependency);
    const failedChecks = checks.filter((check) => check.state !== 'open');
    const down = withState(statesOf(facts, dependency), 'stopped', 'failed', 'crashloop');
    // A dependency may live on another host, so a local process or unit that is down only corroborates.
    if (logLines.length === 0 && failedChecks.length === 0) continue;
    // A port check that fails while docservice's healthcheck passes looked in the wrong place (the
    // dependency lives elsewhere, or behind another address): docservice itself reaches it.
    if (logLines.length === 0 && healthcheckPasses) continue;
    // A reachable dependency makes old connection errors in the log a thing of the past.
    const reachableNow = checks.length > 0 && failedChecks.length === 0;
    const corroborated = [logLines.length > 0, failedChecks.length > 0, down.length > 0].filter(Boolean).length;
    let confidence = logLines.length > 0 ? 0.82 : 0.78;
    if (corroborated >= 2) confidence = 0.95;
    // Without a single complaint in docservice's log, a closed port is a lead, not a root cause.
    if (logLines.length === 0) confidence = down.length > 0 ? 0.55 : 0.4;
    if (reachableNow || healthcheckPasses) confidence = Math.min(confidence, 0.45);
    causes.push(makeCause(DEPENDENCY_CAUSE[dependency]!, confidence, interleave(3, failedChecks, down, logLines), dependency));
  }
  return causes;
}

const KNOWN_SERVICES = new Set(['docservice', 'converter', 'example', 'metrics', 'adminpanel', 'nginx', 'postgres', 'rabbitmq', 'redis']);

function oomSubject(process: string): string | undefined {
  // x2t is the converter's worker binary; node hosted docservice/converter in older packages.
  const name = process.toLowerCase() === 'x2t' ? 'converter' : normalizeServiceName(process);
  return KNOWN_SERVICES.has(name) ? name : undefined;
}

export function oomCauses(facts: Facts): Cause[] {
  const bySubject = new Map<string, Facts['oomKills']>();
  for (const kill of facts.oomKills) {
    const key = oomSubject(kill.process) ?? '';
    bySubject.set(key, [...(bySubject.get(key) ?? []), kill]);
  }
  const causes: Cause[] = [];
  for (const [subject, kills] of bySubject) {
    // The kernel log keeps old kills: one whose service has since come back and answers is history.
    const recovered = subject !== '' && isRunning(facts, subject) && (subject !== 'docservice' || docserviceHealthcheckPasses(facts));
    if (recovered) continue;
    causes.push(makeCause('oom_killed', subject ? 0.9 : 0.5, kills, subject || undefined));
  }
  const containers = facts.services.filter((status) => status.oomKilled === true);
  for (const container of containers) {
    causes.push(makeCause('oom_killed', 0.9, [container], container.service === 'container' ? undefined : container.service));
  }
  return causes;
}

export function diskFullCauses(facts: Facts): Cause[] {
  const full = facts.disks.filter((disk) => disk.usePercent >= 100);
  const lines = [
    ...facts.noSpace,
    ...facts.logFindings.filter((finding) => finding.kind === 'no_space'),
    ...facts.nginxErrors.filter((event) => event.kind === 'no_space'),
  ];
  if (full.length === 0 && lines.length === 0) return [];
  const confidence = full.length > 0 && lines.length > 0 ? 0.95 : lines.length > 0 ? 0.9 : 0.82;
  return [makeCause('disk_full', confidence, interleave(4, full, lines))];
}

/** A process this close to its soft descriptor limit fails its next accept() or open(). */
const NEAR_LIMIT = 0.9;

export function fdExhaustionCauses(facts: Facts): Cause[] {
  const nginx = facts.nginxErrors.filter((event) => event.kind === 'too_many_open_files');
  const services = facts.logFindings.filter((finding) => finding.kind === 'too_many_open_files');
  const other = facts.tooManyOpenFiles;
  const nearLimit = facts.openFiles.filter((usage) => usage.soft !== undefined && usage.open >= usage.soft * NEAR_LIMIT);
  if (nginx.length === 0 && services.length === 0 && other.length === 0) {
    if (nearLimit.length === 0) return [];
    const subjects = [...new Set(nearLimit.map((usage) => normalizeServiceName(usage.process)))];
    return [makeCause('fd_exhaustion', 0.75, nearLimit, subjects.length === 1 ? subjects[0] : undefined)];
  }
  const subject = nginx.length > 0 && services.length === 0 ? 'nginx' : services.length > 0 && nginx.length === 0 ? serviceOfStep(services[0]!.step) : undefined;
  return [makeCause('fd_exhaustion', 0.85, interleave(4, nginx, services, other, nearLimit), subject)];
}

function serviceOfStep(step: string): string | undefined {
  if (step === 'docservice_log') return 'docservice';
  if (step === 'converter_log') return 'converter';
  return undefined;
}

export function hostUnreachableCauses(facts: Facts): Cause[] {
  if (facts.sshFailures.length === 0) return [];
  return [makeCause('host_unreachable', 0.95, facts.sshFailures)];
}
