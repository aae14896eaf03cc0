import { auxiliaryServiceCauses, converterCauses, docserviceCauses, exampleCauses, portConflictCauses } from './rules/backend.js';
import { makeCause } from './rules/cause.js';
import { gatherFacts, type Facts } from './rules/facts.js';
import { dependencyCauses, diskFullCauses, fdExhaustionCauses, hostUnreachableCauses, oomCauses } from './rules/host.js';
import { dnsCauses, firewallCauses, selinuxCauses, tlsCauses, wrongUpstreamPortCauses } from './rules/network.js';
import { headerTooBigCauses, nginxConfigInvalidCauses, nginxDownCauses, upstreamTimeoutCauses } from './rules/nginx.js';
import { failingProbe, isRunning, listenersOn } from './rules/topology.js';
import { probeOk } from './parsers/index.js';
import type { Cause, Classification, Evidence } from './types.js';
import { CAUSE_IDS, type CauseId } from './vocabulary.js';

/** Causes that make others happen rank first when confidences tie. */
const ROOT_FIRST: CauseId[] = [
  'host_unreachable',
  'nginx_config_invalid',
  'dns_resolution',
  'dependency_postgres',
  'dependency_rabbitmq',
  'dependency_redis',
  'oom_killed',
  'disk_full',
  'fd_exhaustion',
  'port_conflict',
  'firewall_block',
  'selinux_denial',
  'wrong_upstream_port',
  'tls_upstream',
  'header_too_big',
  'upstream_timeout',
  'nginx_down',
  'example_not_started',
  'backend_crashloop',
  'backend_down',
  'other',
];

function rootRank(id: CauseId): number {
  const index = ROOT_FIRST.indexOf(id);
  return index < 0 ? CAUSE_IDS.length : index;
}

/** One cause per id and subject: the highest confidence, with every distinct line either version cited. */
function merge(causes: Cause[]): Cause[] {
  const byKey = new Map<string, Cause>();
  for (const cause of causes) {
    const key = `${cause.id}\u0000${cause.subject ?? ''}`;
    const existing = byKey.get(key);
    if (!existing) {
      byKey.set(key, cause);
      continue;
    }
    const lines = [...existing.evidence, ...cause.evidence].map((line) => ({ raw: line.line, step: line.step }));
    byKey.set(key, makeCause(cause.id, Math.max(existing.confidence, cause.confidence), lines, cause.subject));
  }
  return [...byKey.values()];
}

function rank(causes: Cause[]): Cause[] {
  return [...causes].sort((a, b) => b.confidence - a.confidence || rootRank(a.id) - rootRank(b.id));
}

/** Faults seen that no rule explains: failing probes, unrecognised upstream errors. */
function unexplained(facts: Facts, causes: Cause[]): Cause[] {
  if (causes.some((cause) => cause.id !== 'other')) return [];
  const probes = facts.probes.filter(failingProbe);
  // Error lines are history when every probe answers now: they explain nothing about the present.
  const answersNow = facts.probes.length > 0 && probes.length === 0;
  const upstreamErrors = answersNow ? [] : facts.nginxErrors;
  const testFailures = facts.nginxTestErrors;
  if (probes.length === 0 && upstreamErrors.length === 0 && testFailures.length === 0) return [];
  return [makeCause('other', 0.4, [...probes.slice(0, 4), ...upstreamErrors.slice(0, 4), ...testFailures.slice(0, 2)])];
}

function diagnose(facts: Facts): Cause[] {
  const configInvalid = nginxConfigInvalidCauses(facts);
  const roots = [
    ...hostUnreachableCauses(facts),
    ...configInvalid,
    ...dnsCauses(facts),
    ...dependencyCauses(facts),
    ...oomCauses(facts),
    ...diskFullCauses(facts),
    ...fdExhaustionCauses(facts),
    ...portConflictCauses(facts),
    ...firewallCauses(facts),
    ...selinuxCauses(facts),
    ...wrongUpstreamPortCauses(facts),
    ...tlsCauses(facts),
  ];
  const symptoms = [
    ...headerTooBigCauses(facts),
    ...upstreamTimeoutCauses(facts),
    ...nginxDownCauses(facts, configInvalid.some((cause) => cause.confidence >= 0.9)),
    ...exampleCauses(facts),
    ...docserviceCauses(facts, roots),
    ...converterCauses(facts, roots),
    ...auxiliaryServiceCauses(facts),
  ];
  const found = [...roots, ...symptoms];
  return rank(merge([...found, ...unexplained(facts, found)]));
}

/**
 * Healthy needs evidence that would have shown a fault: probes that all answer, or docservice
 * running with nginx up. Anything thinner is unknown.
 */
function looksHealthy(facts: Facts): boolean {
  if (facts.probes.length > 0 && facts.probes.every(probeOk)) return true;
  const nginxUp = isRunning(facts, 'nginx') || listenersOn(facts, 80).length > 0 || listenersOn(facts, 443).length > 0;
  return isRunning(facts, 'docservice') && nginxUp;
}

/**
 * Classifies collected evidence: ranked causes (root causes above the symptoms they produce), each
 * citing the exact lines, and a verdict. Pure and total: any input, however malformed, gets an answer.
 */
export function classify(evidence: Evidence): Classification {
  let facts: Facts;
  let causes: Cause[];
  try {
    facts = gatherFacts(evidence);
    causes = diagnose(facts);
  } catch {
    // The parsers are total; this guards the promise that classify never throws, whatever a rule meets.
    return { verdict: 'unknown', causes: [] };
  }
  if (causes.length > 0) return { verdict: 'fault', causes };
  return { verdict: looksHealthy(facts) ? 'healthy' : 'unknown', causes: [] };
}
