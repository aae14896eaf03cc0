// Where nginx sends traffic and who listens where: the picture the backend and network rules share.
import { isLoopbackHost, normalizeServiceName } from '../parsers/text.js';
import type { Cited, Facts, Line } from './facts.js';
import type { NginxErrorEvent, ServiceState, ServiceStatus } from '../parsers/index.js';

/** docservice's port in ONLYOFFICE's default.json (services.CoAuthoring.server.port). */
export const DOCSERVICE_DEFAULT_PORT = 8000;
/** The test example's port in ONLYOFFICE's nginx `upstream example`. */
export const EXAMPLE_DEFAULT_PORT = 3000;

export interface UpstreamTarget {
  host: string;
  port: number;
  /** Lines that show nginx using this target: error-log lines, upstream `server` or `proxy_pass` lines. */
  lines: Array<Cited<Line>>;
}

/** True when an nginx error concerns the test example rather than docservice. */
export function isExampleEvent(event: NginxErrorEvent): boolean {
  const url = event.upstreamUrl;
  if (url && (url.host === 'example' || (url.port === EXAMPLE_DEFAULT_PORT && url.explicitPort))) return true;
  return /^\S+\s+\/example\//.test(event.request ?? '');
}

/** nginx errors of the given kinds about docservice (not about the example). */
export function docserviceErrors(facts: Facts, ...kinds: NginxErrorEvent['kind'][]): Cited<NginxErrorEvent>[] {
  return facts.nginxErrors.filter((event) => kinds.includes(event.kind) && !isExampleEvent(event));
}

export function exampleErrors(facts: Facts, ...kinds: NginxErrorEvent['kind'][]): Cited<NginxErrorEvent>[] {
  return facts.nginxErrors.filter((event) => kinds.includes(event.kind) && isExampleEvent(event));
}

function addTarget(targets: Map<string, UpstreamTarget>, host: string, port: number | undefined, line: Cited<Line>): void {
  if (port === undefined || host === '' || host.startsWith('unix:')) return;
  const key = `${isLoopbackHost(host) ? 'loopback' : host.toLowerCase()}:${port}`;
  const target = targets.get(key) ?? { host, port, lines: [] };
  target.lines.push(line);
  targets.set(key, target);
}

/**
 * The host:port pairs nginx proxies docservice traffic to, from error lines and from the configuration
 * (`upstream` servers and `proxy_pass` to an address). Upstream groups named in a URL are resolved
 * through their `server` lines. The example's upstream is left out.
 */
export function docserviceTargets(facts: Facts): UpstreamTarget[] {
  const targets = new Map<string, UpstreamTarget>();
  for (const event of facts.nginxErrors) {
    if (isExampleEvent(event) || !event.upstreamUrl?.explicitPort) continue;
    addTarget(targets, event.upstreamUrl.host, event.upstreamUrl.port, event);
  }
  const groups = new Set(facts.upstreams.map((block) => block.name));
  for (const block of facts.upstreams) {
    if (block.name === 'example') continue;
    for (const server of block.servers) addTarget(targets, server.host, server.port, { raw: server.raw, step: block.step });
  }
  for (const pass of facts.proxyPasses) {
    const url = pass.url;
    if (!url || groups.has(url.host) || /\/example\//.test(pass.location ?? '') || url.port === EXAMPLE_DEFAULT_PORT) continue;
    if (url.host.includes('$')) continue;
    addTarget(targets, url.host, url.port, pass);
  }
  return [...targets.values()];
}

export function listenersOn(facts: Facts, port: number): Facts['listeners'] {
  return facts.listeners.filter((listener) => listener.port === port);
}

/** The port docservice listens on: a listener named docservice, else the default port if anything holds it. */
export function docserviceListener(facts: Facts): Facts['listeners'][number] | undefined {
  return (
    facts.listeners.find((listener) => listener.process !== undefined && normalizeServiceName(listener.process) === 'docservice') ??
    listenersOn(facts, DOCSERVICE_DEFAULT_PORT)[0]
  );
}

/** The latest state each manager reports for a service (a restart prints `stopped` then `started`). */
export function statesOf(facts: Facts, service: string): Cited<ServiceStatus>[] {
  const latest = new Map<string, Cited<ServiceStatus>>();
  for (const status of facts.services) {
    if (status.service === service) latest.set(`${status.source}:${status.name}`, status);
  }
  return [...latest.values()];
}

export function withState(statuses: Cited<ServiceStatus>[], ...states: ServiceState[]): Cited<ServiceStatus>[] {
  return statuses.filter((status) => states.includes(status.state));
}

/** A service is running when some manager says so and none says it is down. */
export function isRunning(facts: Facts, service: string): boolean {
  const statuses = statesOf(facts, service);
  return withState(statuses, 'running').length > 0 && withState(statuses, 'stopped', 'failed', 'crashloop').length === 0;
}

/** Probes aimed straight at docservice: named so, or at its port (not /healthcheck through nginx). */
export function docserviceProbes(facts: Facts): Facts['probes'] {
  return facts.probes.filter((probe) => /docservice/i.test(probe.name) || probe.parsedUrl?.port === DOCSERVICE_DEFAULT_PORT);
}

export function exampleProbes(facts: Facts): Facts['probes'] {
  return facts.probes.filter((probe) => /example/i.test(probe.name) || /\/example\//.test(probe.parsedUrl?.path ?? '') || probe.parsedUrl?.port === EXAMPLE_DEFAULT_PORT);
}

export function nginxProbes(facts: Facts): Facts['probes'] {
  return facts.probes.filter((probe) => !docserviceProbes(facts).includes(probe) && !exampleProbes(facts).includes(probe));
}

/** No HTTP answer because nothing accepted the connection. */
export function refusedProbe(probe: Facts['probes'][number]): boolean {
  return probe.code === 0 && /refused|Failed to connect|Couldn't connect/i.test(probe.error ?? '');
}

/** A probe that got a 5xx or no answer; a probe that could not run (no curl/wget) shows nothing. */
export function failingProbe(probe: Facts['probes'][number]): boolean {
  if (probe.code === 0) return !/not installed/.test(probe.error ?? '');
  return probe.code >= 500;
}
