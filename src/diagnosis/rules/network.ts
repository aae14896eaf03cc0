// Between nginx and its upstream: firewalls, SELinux, names, TLS, and a port nobody listens on.
import { isLoopbackHost } from '../parsers/text.js';
import { tcpPortVerdicts, type PortVerdict } from '../parsers/index.js';
import type { Cause } from '../types.js';
import { interleave, makeCause } from './cause.js';
import type { Cited, Facts, Line } from './facts.js';
import {
  DOCSERVICE_DEFAULT_PORT,
  docserviceErrors,
  docserviceListener,
  docserviceTargets,
  EXAMPLE_DEFAULT_PORT,
  isRunning,
  listenersOn,
  type UpstreamTarget,
} from './topology.js';

function blockingVerdicts(facts: Facts, target: UpstreamTarget): Array<Cited<Line>> {
  const loopback = isLoopbackHost(target.host) || target.host === '*';
  const blocking: Array<Cited<Line>> = [];
  for (const firewall of facts.firewalls) {
    const verdicts: PortVerdict[] = tcpPortVerdicts(firewall.facts, target.port, loopback);
    for (const verdict of verdicts) {
      if (verdict.action !== 'accept') blocking.push({ raw: verdict.raw, step: firewall.step });
    }
  }
  return blocking;
}

function errorsForPort(facts: Facts, port: number, ...kinds: Parameters<typeof docserviceErrors>[1][]): Facts['nginxErrors'] {
  return facts.nginxErrors.filter((event) => kinds.includes(event.kind) && event.upstreamUrl?.port === port);
}

/**
 * A DROP/REJECT rule (or a dropping policy) on the upstream's port explains connect timeouts,
 * `No route to host` (icmp-host-prohibited) and even `Connection refused` (tcp-reset), whatever the
 * backend's state. Without a rule in evidence, 113 and connect timeouts still point at a firewall.
 */
export function firewallCauses(facts: Facts): Cause[] {
  const targets = docserviceTargets(facts);
  const candidates: UpstreamTarget[] = targets.length > 0 ? targets : [{ host: '127.0.0.1', port: DOCSERVICE_DEFAULT_PORT, lines: [] }];
  const exampleTarget: UpstreamTarget = { host: '127.0.0.1', port: EXAMPLE_DEFAULT_PORT, lines: [] };
  const causes: Cause[] = [];
  for (const target of [...candidates, exampleTarget]) {
    const blocking = blockingVerdicts(facts, target);
    const symptoms = errorsForPort(facts, target.port, 'connect_timeout', 'connect_no_route', 'connect_refused');
    if (blocking.length > 0) {
      if (target === exampleTarget && symptoms.length === 0) continue;
      const confidence = symptoms.length > 0 ? 0.95 : 0.75;
      causes.push(makeCause('firewall_block', confidence, interleave(4, symptoms, blocking)));
    }
  }
  if (causes.length > 0) return causes;
  const noRoute = docserviceErrors(facts, 'connect_no_route');
  const connectTimeouts = docserviceErrors(facts, 'connect_timeout');
  if (noRoute.length > 0) return [makeCause('firewall_block', 0.7, interleave(4, noRoute, connectTimeouts))];
  if (connectTimeouts.length > 0) return [makeCause('firewall_block', 0.6, connectTimeouts)];
  return [];
}

/**
 * With SELinux enforcing, nginx (httpd_t) may connect only to ports labelled for it unless
 * httpd_can_network_connect is on; docservice's 8000 is soundd_port_t, so nginx gets EACCES (13).
 */
export function selinuxCauses(facts: Facts): Cause[] {
  const denied = facts.nginxErrors.filter((event) => event.kind === 'connect_permission_denied');
  const avc = facts.avcDenials.filter(
    (denial) => denial.permissions.includes('name_connect') && (denial.comm === undefined || /nginx|httpd/.test(denial.comm)) && denial.permissive !== true,
  );
  const enforcing = facts.selinuxMode?.mode === 'enforcing' ? facts.selinuxMode : undefined;
  const booleanOff = facts.selinuxBooleanOff;
  if (denied.length === 0 && avc.length === 0) return [];
  const support = [enforcing, booleanOff, ...avc.slice(0, 2)].filter((line) => line !== undefined);
  let confidence = denied.length > 0 ? (support.length > 0 ? 0.95 : 0.75) : 0.85;
  if (facts.selinuxMode?.mode === 'disabled' || facts.selinuxMode?.mode === 'permissive') confidence = Math.min(confidence, 0.35);
  return [makeCause('selinux_denial', confidence, [...denied.slice(0, 3), enforcing, booleanOff, ...avc.slice(0, 3)], 'nginx')];
}

export function dnsCauses(facts: Facts): Cause[] {
  const events = facts.nginxErrors.filter((event) => event.kind === 'host_not_found' || event.kind === 'unresolved');
  const testErrors = facts.nginxTestErrors.filter((error) => /host not found in upstream|could not be resolved/.test(error.message));
  const unresolved = facts.dns.filter((result) => !result.resolved);
  if (events.length === 0 && testErrors.length === 0 && unresolved.length === 0) return [];
  const confidence = events.length > 0 || testErrors.length > 0 ? 0.9 : 0.8;
  return [makeCause('dns_resolution', confidence, interleave(3, testErrors, events, unresolved), 'nginx')];
}

export function tlsCauses(facts: Facts): Cause[] {
  const events = facts.nginxErrors.filter((event) => event.kind === 'ssl_upstream');
  return events.length > 0 ? [makeCause('tls_upstream', 0.9, events, 'nginx')] : [];
}

/**
 * nginx proxies docservice traffic to a port where nothing listens while docservice listens on
 * another: a fix in nginx's configuration, not a restart.
 */
export function wrongUpstreamPortCauses(facts: Facts): Cause[] {
  const listener = docserviceListener(facts);
  const causes: Cause[] = [];
  for (const target of docserviceTargets(facts)) {
    if (!isLoopbackHost(target.host) && target.host !== 'localhost') continue;
    const refused = errorsForPort(facts, target.port, 'connect_refused');
    const nobodyThere = facts.listenersSeen && listenersOn(facts, target.port).length === 0;
    if (listener && nobodyThere && listener.port !== target.port) {
      const confidence = refused.length > 0 ? 0.92 : 0.8;
      causes.push(makeCause('wrong_upstream_port', confidence, [...refused.slice(0, 3), ...target.lines.filter((line) => !('kind' in line)).slice(0, 2), listener], 'nginx'));
    } else if (!facts.listenersSeen && refused.length > 0 && target.port !== DOCSERVICE_DEFAULT_PORT && isRunning(facts, 'docservice') && blockingVerdicts(facts, target).length === 0) {
      // Without a listener table, refusals on an odd port while docservice runs point at the port — unless a firewall rejects it.
      const running = facts.services.filter((status) => status.service === 'docservice' && status.state === 'running');
      causes.push(makeCause('wrong_upstream_port', 0.7, [...refused.slice(0, 3), ...running.slice(0, 1)], 'nginx'));
    }
  }
  return causes;
}
