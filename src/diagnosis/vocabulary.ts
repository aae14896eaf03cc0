// The outside contract's vocabulary (../shared/contract.md). Ids may be added, never renamed.

export const CAUSE_IDS = [
  'backend_down',
  'backend_crashloop',
  'wrong_upstream_port',
  'port_conflict',
  'upstream_timeout',
  'header_too_big',
  'selinux_denial',
  'firewall_block',
  'dns_resolution',
  'tls_upstream',
  'dependency_postgres',
  'dependency_rabbitmq',
  'dependency_redis',
  'oom_killed',
  'disk_full',
  'fd_exhaustion',
  'nginx_down',
  'nginx_config_invalid',
  'example_not_started',
  'host_unreachable',
  'other',
] as const;
export type CauseId = (typeof CAUSE_IDS)[number];

export const EVIDENCE_KEYS = [
  'nginx_error_log',
  'nginx_config',
  'nginx_test',
  'service_status',
  'docservice_log',
  'converter_log',
  'ports',
  'firewall',
  'selinux',
  'resources',
  'dependencies',
  'http_probe',
  'dns',
  'other',
] as const;
export type EvidenceKey = (typeof EVIDENCE_KEYS)[number];

export const INSTALL_KINDS = ['deb', 'rpm', 'docker', 'unknown'] as const;
export type InstallKind = (typeof INSTALL_KINDS)[number];

export const PROCESS_MANAGERS = ['systemd', 'supervisor', 'docker'] as const;
export type ProcessManager = (typeof PROCESS_MANAGERS)[number];

export const RISKS = ['low', 'medium', 'high'] as const;
export type Risk = (typeof RISKS)[number];

export const VERDICTS = ['healthy', 'fault', 'unreachable', 'unknown'] as const;
export type Verdict = (typeof VERDICTS)[number];

export function isCauseId(value: string): value is CauseId {
  return (CAUSE_IDS as readonly string[]).includes(value);
}

export function isEvidenceKey(value: string): value is EvidenceKey {
  return (EVIDENCE_KEYS as readonly string[]).includes(value);
}
