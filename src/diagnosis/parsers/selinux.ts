import { cite, splitLines } from './text.js';

export interface AvcDenial {
  permissions: string[];
  comm?: string;
  destPort?: number;
  sourceType?: string;
  targetType?: string;
  tclass?: string;
  permissive?: boolean;
  raw: string;
}

export interface SelinuxFacts {
  /** enforcing, permissive or disabled, from `sestatus`, `getenforce` or `getsebool`. */
  mode?: 'enforcing' | 'permissive' | 'disabled';
  modeLine?: string;
  /** The httpd_can_network_connect boolean, which lets nginx (httpd_t) connect to any port. */
  httpdCanNetworkConnect?: boolean;
  booleanLine?: string;
  denials: AvcDenial[];
  notInstalled?: string;
}

const AVC = /avc:\s+denied\s+\{\s*([^}]*)\}/;

function contextType(context: string | undefined): string | undefined {
  return context?.split(':')[2];
}

export function parseAvcLine(line: string): AvcDenial | undefined {
  const avc = AVC.exec(line);
  if (!avc) return undefined;
  const comm = /\bcomm="?([^"\s]+)"?/.exec(line)?.[1];
  const dest = /\bdest=(\d+)/.exec(line)?.[1];
  const sourceType = contextType(/\bscontext=(\S+)/.exec(line)?.[1]);
  const targetType = contextType(/\btcontext=(\S+)/.exec(line)?.[1]);
  const tclass = /\btclass=(\S+)/.exec(line)?.[1];
  const permissive = /\bpermissive=([01])/.exec(line)?.[1];
  return {
    permissions: avc[1]!.trim().split(/\s+/).filter(Boolean),
    ...(comm ? { comm } : {}),
    ...(dest ? { destPort: Number(dest) } : {}),
    ...(sourceType ? { sourceType } : {}),
    ...(targetType ? { targetType } : {}),
    ...(tclass ? { tclass } : {}),
    ...(permissive ? { permissive: permissive === '1' } : {}),
    raw: cite(line),
  };
}

/** `sestatus`, `getenforce`, `getsebool httpd_can_network_connect`, AVC denial lines, `sestatus: not installed`. */
export function parseSelinux(text: unknown): SelinuxFacts {
  const facts: SelinuxFacts = { denials: [] };
  for (const line of splitLines(text)) {
    const trimmed = line.trim();
    const status = /^SELinux status:\s+(enabled|disabled)/i.exec(trimmed);
    if (status && status[1]!.toLowerCase() === 'disabled') {
      facts.mode = 'disabled';
      facts.modeLine = cite(line);
    }
    const mode = /^Current mode:\s+(enforcing|permissive)/i.exec(trimmed) ?? /^(Enforcing|Permissive|Disabled)$/.exec(trimmed);
    if (mode) {
      facts.mode = mode[1]!.toLowerCase() as SelinuxFacts['mode'];
      facts.modeLine = cite(line);
    }
    if (/^getsebool:\s+SELinux is disabled/.test(trimmed)) {
      facts.mode = 'disabled';
      facts.modeLine = cite(line);
    }
    const boolean = /^httpd_can_network_connect\s+-->\s+(on|off)\b/.exec(trimmed);
    if (boolean) {
      facts.httpdCanNetworkConnect = boolean[1] === 'on';
      facts.booleanLine = cite(line);
    }
    if (/^(sestatus|getenforce|getsebool): not installed\s*$/.test(trimmed)) facts.notInstalled = cite(line);
    const denial = parseAvcLine(line);
    if (denial) facts.denials.push(denial);
  }
  return facts;
}
