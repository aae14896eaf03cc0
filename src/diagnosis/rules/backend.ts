// The ONLYOFFICE services behind nginx: down, crash-looping, crowded off their port, or not started.
import { normalizeServiceName } from '../parsers/text.js';
import type { Cause } from '../types.js';
import type { CauseId } from '../vocabulary.js';
import { interleave, makeCause } from './cause.js';
import type { Facts } from './facts.js';
import {
  DOCSERVICE_DEFAULT_PORT,
  docserviceErrors,
  docserviceProbes,
  isRunning,
  docserviceTargets,
  exampleErrors,
  exampleProbes,
  listenersOn,
  refusedProbe,
  statesOf,
  withState,
} from './topology.js';

function docservicePorts(facts: Facts): number[] {
  const ports = docserviceTargets(facts).map((target) => target.port);
  return ports.length > 0 ? [...new Set(ports)] : [DOCSERVICE_DEFAULT_PORT];
}

/** docservice cannot bind its port because another process holds it (EADDRINUSE, or a stranger on the port while it is down). */
export function portConflictCauses(facts: Facts): Cause[] {
  const inUse = facts.logFindings.filter((finding) => finding.kind === 'address_in_use');
  const down = withState(statesOf(facts, 'docservice'), 'stopped', 'failed', 'crashloop');
  const port = inUse.find((finding) => finding.port !== undefined)?.port ?? docservicePorts(facts)[0]!;
  const holders = listenersOn(facts, port).filter((listener) => listener.process !== undefined && normalizeServiceName(listener.process) !== 'docservice');
  if (inUse.length > 0) {
    return [makeCause('port_conflict', holders.length > 0 ? 0.95 : 0.9, interleave(3, inUse, holders, down), 'docservice')];
  }
  if (down.length > 0 && holders.length > 0) {
    return [makeCause('port_conflict', 0.8, interleave(3, holders, down), 'docservice')];
  }
  return [];
}

const CONSEQUENCE_OF: CauseId[] = ['dependency_postgres', 'dependency_rabbitmq', 'dependency_redis', 'oom_killed', 'disk_full', 'fd_exhaustion', 'port_conflict'];

/**
 * A root cause on the host that makes docservice fail: then "docservice is down" is the symptom, ranked
 * below it. Only a well-supported root counts; a guess must not push the plain fact down.
 */
function rootBehind(roots: Cause[], service: string): boolean {
  return roots.some(
    (cause) =>
      cause.confidence >= 0.6 &&
      CONSEQUENCE_OF.includes(cause.id) &&
      (cause.subject === undefined || cause.subject === service || cause.id.startsWith('dependency_')),
  );
}

const EXPLAINS_CONNECTIONS: CauseId[] = ['wrong_upstream_port', 'firewall_block', 'selinux_denial', 'port_conflict'];

/**
 * Causes that explain refused or missing connections without docservice being down. Only well
 * supported ones count (a firewall guessed from one `No route to host` line does not explain refusals).
 */
function connectionExplained(roots: Cause[]): boolean {
  return roots.some((cause) => EXPLAINS_CONNECTIONS.includes(cause.id) && cause.confidence >= 0.75);
}

function answersNow(facts: Facts): boolean {
  const probes = docserviceProbes(facts);
  return probes.length > 0 && probes.every((probe) => probe.code >= 200 && probe.code < 400) && isRunning(facts, 'docservice');
}

export function docserviceCauses(facts: Facts, roots: Cause[]): Cause[] {
  const statuses = statesOf(facts, 'docservice');
  const stopped = withState(statuses, 'stopped');
  const looping = withState(statuses, 'crashloop', 'failed');
  const refused = docserviceErrors(facts, 'connect_refused');
  const noLive = docserviceErrors(facts, 'no_live_upstreams');
  const premature = docserviceErrors(facts, 'premature_close');
  const probes = docserviceProbes(facts).filter(refusedProbe);
  const nobodyListens = facts.listenersSeen && docservicePorts(facts).every((port) => listenersOn(facts, port).length === 0);
  const absence = nobodyListens ? [facts.listenerHeader] : [];
  const managerSaysDown = stopped.length > 0 || looping.length > 0;
  if (!managerSaysDown && connectionExplained(roots)) return [];
  // The error log keeps every refusal since it was rotated; a docservice that runs and answers its own
  // healthcheck now makes those lines history (e.g. right after a restart).
  if (!managerSaysDown && answersNow(facts)) return [];
  const consequence = rootBehind(roots, 'docservice');
  const cap = (confidence: number): number => (consequence ? Math.min(confidence, 0.5) : confidence);

  if (looping.length > 0 || (premature.length > 0 && stopped.length === 0)) {
    const confidence = looping.length > 0 ? 0.88 : 0.6;
    return [makeCause('backend_crashloop', cap(confidence), interleave(3, looping, refused, premature, noLive), 'docservice')];
  }
  if (roots.some((cause) => cause.id === 'port_conflict')) return [];
  const symptom = refused.length > 0 || probes.length > 0 || nobodyListens;
  if (stopped.length === 0 && !symptom && noLive.length === 0) return [];
  let confidence: number;
  if (stopped.length > 0) confidence = symptom ? 0.93 : 0.85;
  else if (refused.length > 0 && nobodyListens) confidence = 0.9;
  else if (refused.length > 0 || probes.length > 0) confidence = 0.75;
  else confidence = 0.6;
  return [makeCause('backend_down', cap(confidence), interleave(3, stopped, refused, probes, noLive, absence), 'docservice')];
}

/** The converter works from RabbitMQ queues, not behind nginx: its failures break conversion, not the 502. */
export function converterCauses(facts: Facts, roots: Cause[]): Cause[] {
  const statuses = statesOf(facts, 'converter');
  const looping = withState(statuses, 'crashloop', 'failed');
  const stopped = withState(statuses, 'stopped');
  const consequence = rootBehind(roots, 'converter');
  if (looping.length > 0) return [makeCause('backend_crashloop', consequence ? 0.45 : 0.6, looping, 'converter')];
  if (stopped.length > 0) return [makeCause('backend_down', consequence ? 0.45 : 0.55, stopped, 'converter')];
  return [];
}

/**
 * The example is off by default, so a stopped example alone is no fault; it is one when `/example/`
 * fails because of it (a refused `example` upstream or a failing `/example/` probe).
 */
export function exampleCauses(facts: Facts): Cause[] {
  const down = withState(statesOf(facts, 'example'), 'stopped', 'failed', 'crashloop');
  const errors = exampleErrors(facts, 'connect_refused', 'no_live_upstreams', 'connect_timeout');
  // A 5xx means nginx answered and the example behind it did not; no answer at all is nginx's problem.
  const probes = exampleProbes(facts).filter((probe) => probe.code >= 500);
  if (errors.length === 0 && probes.length === 0) return [];
  const confidence = down.length > 0 ? 0.93 : errors.length > 0 ? 0.75 : 0.6;
  return [makeCause('example_not_started', confidence, interleave(3, down, probes, errors), 'example')];
}

const AUXILIARY = ['metrics', 'adminpanel', 'spellchecker', 'gc'];

/** Other ONLYOFFICE services failing: worth reporting, though they do not make nginx answer 502. */
export function auxiliaryServiceCauses(facts: Facts): Cause[] {
  const causes: Cause[] = [];
  for (const service of AUXILIARY) {
    const failing = withState(statesOf(facts, service), 'crashloop', 'failed');
    if (failing.length > 0) causes.push(makeCause('other', 0.3, failing, service));
  }
  return causes;
}
