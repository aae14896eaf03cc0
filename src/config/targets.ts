import type { ProcessManager } from '../diagnosis/vocabulary.js';
import type { Config, Install } from './schema.js';

/** One host ready for the SSH layer: every default applied, the jump chain resolved to objects. */
export interface ResolvedHost {
  name: string;
  address: string;
  port: number;
  user: string;
  /** Private key file (absolute); absent: use the ssh-agent. */
  identityFile?: string;
  /** Pinned public key lines; may be empty when knownHostsFile is set (never both missing). */
  hostKeys: string[];
  /** Absolute path of a known_hosts file to check the host key against. */
  knownHostsFile?: string;
  install?: Install;
  /** Absent: detect it with the runbook's `detect` command. */
  processManager?: ProcessManager;
  container?: string;
  sudo: boolean;
  /** The host to hop through, itself resolved (and possibly with its own jump). */
  jump?: ResolvedHost;
}

/** A name that is neither a host nor a group; lists what exists so the operator can pick. */
export class UnknownTargetError extends Error {
  readonly target: string;
  readonly hosts: string[];
  readonly groups: string[];

  constructor(target: string, hosts: string[], groups: string[]) {
    super(
      `unknown host or group "${target}"; hosts: ${hosts.join(', ') || '(none)'}; groups: ${groups.join(', ') || '(none)'}`,
    );
    this.name = 'UnknownTargetError';
    this.target = target;
    this.hosts = hosts;
    this.groups = groups;
  }
}

export function resolveHost(config: Config, name: string): ResolvedHost {
  // parseConfig refuses cycles, but a Config can be built by hand: bound the walk anyway.
  const seen = new Set<string>();
  const build = (hostName: string): ResolvedHost => {
    const host = config.hosts[hostName];
    if (!host) throw new UnknownTargetError(hostName, Object.keys(config.hosts), Object.keys(config.groups));
    if (seen.has(hostName)) throw new Error(`jump hosts form a cycle through "${hostName}"`);
    seen.add(hostName);
    const { jump, ...rest } = host;
    return { name: hostName, ...rest, hostKeys: [...host.hostKeys], ...(jump !== undefined ? { jump: build(jump) } : {}) };
  };
  return build(name);
}

/** A host name gives that host; a group name gives its hosts in the group's order. */
export function resolveTargets(config: Config, nameOrGroup: string): ResolvedHost[] {
  if (Object.hasOwn(config.hosts, nameOrGroup)) return [resolveHost(config, nameOrGroup)];
  if (Object.hasOwn(config.groups, nameOrGroup)) {
    return config.groups[nameOrGroup]!.map((member) => resolveHost(config, member));
  }
  throw new UnknownTargetError(nameOrGroup, Object.keys(config.hosts), Object.keys(config.groups));
}
