import type { Cause, Finding } from './types.js';
import type { CauseId } from './vocabulary.js';

/**
 * The request path a user's 502 travels: client → nginx → docservice → dependencies (and the example,
 * which hangs off nginx on its own). Each cause breaks exactly one link; the chain shows where.
 */
export const CHAIN_LINKS = ['host', 'nginx', 'upstream', 'docservice', 'dependencies', 'example'] as const;
export type ChainLink = (typeof CHAIN_LINKS)[number];

export const CHAIN_LABELS: Record<ChainLink, string> = {
  host: 'host (ssh)',
  nginx: 'nginx',
  upstream: 'nginx → docservice',
  docservice: 'docservice',
  dependencies: 'dependencies (PostgreSQL, RabbitMQ, Redis)',
  example: 'example (/example/)',
};

const LINK_OF_CAUSE: Record<CauseId, ChainLink> = {
  host_unreachable: 'host',
  nginx_down: 'nginx',
  nginx_config_invalid: 'nginx',
  wrong_upstream_port: 'upstream',
  upstream_timeout: 'upstream',
  header_too_big: 'upstream',
  selinux_denial: 'upstream',
  firewall_block: 'upstream',
  dns_resolution: 'upstream',
  tls_upstream: 'upstream',
  backend_down: 'docservice',
  backend_crashloop: 'docservice',
  port_conflict: 'docservice',
  oom_killed: 'docservice',
  disk_full: 'docservice',
  fd_exhaustion: 'docservice',
  dependency_postgres: 'dependencies',
  dependency_rabbitmq: 'dependencies',
  dependency_redis: 'dependencies',
  example_not_started: 'example',
  other: 'docservice',
};

export type LinkState = 'ok' | 'broken' | 'unknown';

export interface ChainNode {
  link: ChainLink;
  label: string;
  state: LinkState;
  /** Cause ids that break this link, most likely first. */
  causes: CauseId[];
}

export function linkOfCause(id: CauseId): ChainLink {
  return LINK_OF_CAUSE[id];
}

/**
 * Marks each link broken when a cause breaks it; links are `unknown` when the host could not be
 * examined at all, `ok` otherwise. Causes whose subject is a service other than docservice (e.g. a
 * stopped converter) still break the docservice link, since that is where the user's request dies.
 */
export function chainOf(finding: Pick<Finding, 'verdict' | 'causes'>): ChainNode[] {
  const byLink = new Map<ChainLink, CauseId[]>();
  for (const cause of finding.causes as Cause[]) {
    const link = linkOfCause(cause.id);
    byLink.set(link, [...(byLink.get(link) ?? []), cause.id]);
  }
  const examined = finding.verdict === 'healthy' || finding.verdict === 'fault';
  return CHAIN_LINKS.map((link) => {
    const causes = byLink.get(link) ?? [];
    const state: LinkState = causes.length > 0 ? 'broken' : link === 'host' || examined ? 'ok' : 'unknown';
    return { link, label: CHAIN_LABELS[link], state, causes };
  });
}
