import type { CauseId } from '../diagnosis/vocabulary.js';

/** Ways a lab host can be broken, each for real (see /work/shared/lab.md). */
export const LAB_FAULTS = [
  'backend_down',
  'backend_crashloop',
  'wrong_upstream_port',
  'port_conflict',
  'upstream_timeout',
  'header_too_big',
  'firewall_drop',
  'firewall_reject',
  'dependency_redis',
  'example_not_started',
  'disk_full',
  'nginx_config_invalid',
  'nginx_down',
  'host_unreachable',
] as const;
export type LabFault = (typeof LAB_FAULTS)[number];

export function isLabFault(value: string): value is LabFault {
  return (LAB_FAULTS as readonly string[]).includes(value);
}

/** The cause the classifier should name for a host broken this way. */
export const FAULT_CAUSE: Readonly<Record<LabFault, CauseId>> = {
  backend_down: 'backend_down',
  backend_crashloop: 'backend_crashloop',
  wrong_upstream_port: 'wrong_upstream_port',
  port_conflict: 'port_conflict',
  upstream_timeout: 'upstream_timeout',
  header_too_big: 'header_too_big',
  firewall_drop: 'firewall_block',
  firewall_reject: 'firewall_block',
  dependency_redis: 'dependency_redis',
  example_not_started: 'example_not_started',
  disk_full: 'disk_full',
  nginx_config_invalid: 'nginx_config_invalid',
  nginx_down: 'nginx_down',
  host_unreachable: 'host_unreachable',
};

/** Faults that need a part light hosts leave out (the example, Redis). */
export const FAULTS_NEEDING_FULL_HOST: readonly LabFault[] = ['example_not_started', 'dependency_redis'];
