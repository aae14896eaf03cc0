// nginx itself: whether it runs, whether its configuration loads, and how it talks to the upstream.
import type { Cause } from '../types.js';
import { interleave, makeCause } from './cause.js';
import type { Facts } from './facts.js';
import { listenersOn, nginxProbes, refusedProbe, statesOf, withState } from './topology.js';

/** [emerg] lines that name a file and line, or an `nginx -t` that failed. DNS failures are their own cause. */
export function nginxConfigInvalidCauses(facts: Facts): Cause[] {
  const errors = facts.nginxTestErrors.filter((error) => error.file !== undefined);
  const configErrors = errors.filter((error) => !/host not found in upstream|could not be resolved/.test(error.message));
  const failed = facts.nginxTestFailed;
  if (configErrors.length === 0 && failed.length === 0) return [];
  // A test that fails only because a name does not resolve is a DNS problem first.
  const onlyDns = configErrors.length === 0 && errors.length > 0;
  const confidence = onlyDns ? 0.6 : 0.92;
  return [makeCause('nginx_config_invalid', confidence, [...configErrors.slice(0, 4), ...errors.slice(0, 2), ...failed.slice(0, 2)], 'nginx')];
}

function nginxPorts(facts: Facts): number[] {
  const configured = facts.listens.map((listen) => listen.port).filter((port): port is number => port !== undefined);
  return configured.length > 0 ? [...new Set(configured)] : [80, 443];
}

/** nginx is down: a manager says so, nothing listens on its ports, or its own probe is refused. */
export function nginxDownCauses(facts: Facts, configInvalid: boolean): Cause[] {
  const down = withState(statesOf(facts, 'nginx'), 'stopped', 'failed', 'crashloop');
  const ports = nginxPorts(facts);
  const nobodyListens = facts.listenersSeen && ports.every((port) => listenersOn(facts, port).length === 0) && !facts.listeners.some((listener) => /nginx/.test(listener.process ?? ''));
  const refused = nginxProbes(facts).filter(refusedProbe);
  if (down.length === 0 && !nobodyListens && refused.length === 0) return [];
  const signals = [down.length > 0, nobodyListens, refused.length > 0].filter(Boolean).length;
  let confidence = signals >= 2 ? 0.95 : down.length > 0 ? 0.88 : 0.75;
  // nginx that cannot load its configuration cannot start: the configuration is the root.
  if (configInvalid) confidence = Math.min(confidence, 0.8);
  const listenerEvidence = nobodyListens ? [...facts.listeners.slice(0, 2), facts.listenerHeader] : [];
  return [makeCause('nginx_down', confidence, interleave(3, down, refused, listenerEvidence), 'nginx')];
}

/** The proxy settings a fix would change, cited beside the errors they caused. */
function settingLines(facts: Facts, ...names: string[]): Facts['proxySettings'] {
  return facts.proxySettings.filter((setting) => names.includes(setting.name));
}

/**
 * nginx answers 504 Gateway Timeout when the upstream is too slow for it: a probe that gets 504 through
 * nginx is timeout evidence even before the error log is read (or when only probes were re-run).
 */
export function upstreamTimeoutCauses(facts: Facts): Cause[] {
  const events = facts.nginxErrors.filter((event) => event.kind === 'read_timeout');
  const gatewayTimeouts = nginxProbes(facts).filter((probe) => probe.code === 504);
  if (events.length === 0 && gatewayTimeouts.length === 0) return [];
  const confidence = events.length > 0 ? 0.85 : 0.6;
  const settings = settingLines(facts, 'proxy_read_timeout', 'proxy_send_timeout').slice(0, 2);
  return [makeCause('upstream_timeout', confidence, [...events.slice(0, 4), ...gatewayTimeouts.slice(0, 2), ...settings])];
}

export function headerTooBigCauses(facts: Facts): Cause[] {
  const events = facts.nginxErrors.filter((event) => event.kind === 'too_big_header');
  if (events.length === 0) return [];
  return [makeCause('header_too_big', 0.9, [...events.slice(0, 4), ...settingLines(facts, 'proxy_buffer_size', 'proxy_buffers').slice(0, 2)])];
}
