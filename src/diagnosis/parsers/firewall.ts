import { cite, splitLines } from './text.js';

export type FirewallTool = 'iptables' | 'nft' | 'ufw' | 'firewalld';
export type FirewallAction = 'accept' | 'drop' | 'reject';

export interface PortRange {
  from: number;
  to: number;
}

export interface FirewallRule {
  tool: FirewallTool;
  /** input, output, forward, or the tool's own chain name lower-cased. */
  chain: string;
  action: FirewallAction;
  protocol?: 'tcp' | 'udp';
  /** Destination ports; absent means any port. */
  ports?: PortRange[];
  /** Input interface the rule is limited to (`lo`), when it is. */
  iface?: string;
  /** Source/destination addresses or connection-state matches narrow the rule to some packets only. */
  narrowed: boolean;
  raw: string;
}

export interface FirewallPolicy {
  tool: FirewallTool;
  chain: string;
  action: FirewallAction;
  raw: string;
}

export interface FirewallFacts {
  rules: FirewallRule[];
  policies: FirewallPolicy[];
  /** `ufw status` said inactive: its rules do not apply. */
  ufwInactive?: string;
}

function toAction(word: string): FirewallAction | undefined {
  const lower = word.toLowerCase();
  if (lower === 'accept' || lower === 'allow') return 'accept';
  if (lower === 'drop' || lower === 'deny') return 'drop';
  if (lower === 'reject') return 'reject';
  return undefined;
}

function portList(text: string, rangeSeparator: string): PortRange[] {
  const ranges: PortRange[] = [];
  for (const part of text.split(/[,\s]+/)) {
    if (!part) continue;
    const [from, to] = part.split(rangeSeparator);
    const a = Number(from);
    const b = to === undefined ? a : Number(to);
    if (Number.isInteger(a) && Number.isInteger(b) && a > 0 && b >= a && b <= 65535) ranges.push({ from: a, to: b });
  }
  return ranges;
}

function iptablesLine(line: string): FirewallRule | FirewallPolicy | undefined {
  const text = line.trim();
  const policy = /^-P\s+(\S+)\s+(ACCEPT|DROP|REJECT)\b/.exec(text);
  if (policy) return { tool: 'iptables', chain: policy[1]!.toLowerCase(), action: toAction(policy[2]!)!, raw: cite(line) };
  const append = /^-[AI]\s+(\S+)\s+(.*)$/.exec(text);
  if (!append) return undefined;
  const target = /(?:^|\s)-j\s+(ACCEPT|DROP|REJECT)\b/.exec(append[2]!);
  if (!target) return undefined;
  const body = append[2]!;
  const protocol = /(?:^|\s)-p\s+(tcp|udp)\b/.exec(body)?.[1] as 'tcp' | 'udp' | undefined;
  const dport = /--dports?\s+([\d,:]+)/.exec(body)?.[1];
  const iface = /(?:^|\s)-i\s+(\S+)/.exec(body)?.[1];
  const narrowed = /(?:^|\s)(?:-s|-d|--source|--destination)\s|--(?:ct)?state\s|--src-range|--dst-range/.test(body);
  return {
    tool: 'iptables',
    chain: append[1]!.toLowerCase(),
    action: toAction(target[1]!)!,
    ...(protocol ? { protocol } : {}),
    ...(dport ? { ports: portList(dport, ':') } : {}),
    ...(iface ? { iface } : {}),
    narrowed,
    raw: cite(line),
  };
}

function nftRules(lines: string[]): Array<FirewallRule | FirewallPolicy> {
  const found: Array<FirewallRule | FirewallPolicy> = [];
  let chain: string | undefined;
  for (const line of lines) {
    const text = line.trim();
    const chainHeader = /^chain\s+(\S+)\s*\{/.exec(text);
    if (chainHeader) {
      chain = chainHeader[1]!.toLowerCase();
      continue;
    }
    if (!chain) continue;
    const hook = /hook\s+(input|output|forward|prerouting|postrouting)\b.*policy\s+(accept|drop)\s*;/.exec(text);
    if (hook) {
      chain = hook[1]!;
      found.push({ tool: 'nft', chain, action: toAction(hook[2]!)!, raw: cite(line) });
      continue;
    }
    const verdict = /\b(accept|drop|reject)\b(?:\s+with\s+.*)?\s*(?:comment\s+".*")?$/.exec(text);
    if (!verdict || text.startsWith('type ')) continue;
    const dport = /\b(tcp|udp)\s+dport\s+(\{[^}]*\}|[\d-]+)/.exec(text);
    const iface = /\biif(?:name)?\s+"?([\w.-]+)"?/.exec(text)?.[1];
    const narrowed = /\b(?:ip6?\s+(?:saddr|daddr)|ct\s+state)\b/.test(text);
    found.push({
      tool: 'nft',
      chain,
      action: toAction(verdict[1]!)!,
      ...(dport ? { protocol: dport[1] as 'tcp' | 'udp', ports: portList(dport[2]!.replace(/[{}]/g, ''), '-') } : {}),
      ...(iface ? { iface } : {}),
      narrowed,
      raw: cite(line),
    });
  }
  return found;
}

const UFW_ROW = /^(\S+)(?:\s+\(v6\))?\s+(ALLOW|DENY|REJECT|LIMIT)(?:\s+(IN|OUT|FWD))?\s+(.+?)\s*(?:#.*)?$/;

function ufw(lines: string[], facts: FirewallFacts): void {
  for (const line of lines) {
    const text = line.trim().replace(/^\[\s*\d+\]\s*/, '');
    if (/^Status:\s+inactive/.test(text)) facts.ufwInactive = cite(line);
    const defaults = /^Default:\s+(allow|deny|reject)\s+\(incoming\)/.exec(text);
    if (defaults) facts.policies.push({ tool: 'ufw', chain: 'input', action: toAction(defaults[1]!)!, raw: cite(line) });
    const row = UFW_ROW.exec(text);
    if (!row || row[2] === 'LIMIT' || row[3] === 'OUT' || row[3] === 'FWD') continue;
    const target = /^(\d+(?::\d+)?(?:,\d+(?::\d+)?)*)(?:\/(tcp|udp))?$/.exec(row[1]!);
    if (!target && row[1] !== 'Anywhere') continue;
    facts.rules.push({
      tool: 'ufw',
      chain: 'input',
      action: toAction(row[2]!)!,
      ...(target?.[2] ? { protocol: target[2] as 'tcp' | 'udp' } : {}),
      ...(target ? { ports: portList(target[1]!, ':') } : {}),
      narrowed: !/^Anywhere(?: \(v6\))?$/.test(row[4]!.trim()),
      raw: cite(line),
    });
  }
}

const FIREWALLD_SERVICES: Record<string, number> = { http: 80, https: 443, ssh: 22 };

function firewalld(lines: string[], facts: FirewallFacts): void {
  let zoneActive = false;
  for (const line of lines) {
    const text = line.trim();
    const zone = /^(\S+)\s+\(([^)]*)\)$/.exec(text);
    if (zone && !text.includes(':')) {
      zoneActive = /active/.test(zone[2]!);
      continue;
    }
    if (!zoneActive) continue;
    const target = /^target:\s+(\S+)/.exec(text);
    if (target) {
      // firewalld's `default` target rejects what no rule allows.
      const action = target[1] === 'default' || target[1] === '%%REJECT%%' ? 'reject' : toAction(target[1]!);
      if (action) facts.policies.push({ tool: 'firewalld', chain: 'input', action, raw: cite(line) });
    }
    const ports = /^ports:\s*(.*)$/.exec(text);
    if (ports) {
      for (const entry of ports[1]!.split(/\s+/).filter(Boolean)) {
        const [range, protocol] = entry.split('/');
        facts.rules.push({ tool: 'firewalld', chain: 'input', action: 'accept', protocol: protocol === 'udp' ? 'udp' : 'tcp', ports: portList(range ?? '', '-'), narrowed: false, raw: cite(line) });
      }
    }
    const services = /^services:\s*(.*)$/.exec(text);
    if (services) {
      for (const name of services[1]!.split(/\s+/)) {
        const port = FIREWALLD_SERVICES[name];
        if (port) facts.rules.push({ tool: 'firewalld', chain: 'input', action: 'accept', protocol: 'tcp', ports: [{ from: port, to: port }], narrowed: false, raw: cite(line) });
      }
    }
    const rich = /^rule\b.*\bport port="([\d-]+)" protocol="(tcp|udp)"\s+(accept|drop|reject)\b/.exec(text);
    if (rich) {
      facts.rules.push({
        tool: 'firewalld',
        chain: 'input',
        action: toAction(rich[3]!)!,
        protocol: rich[2] as 'tcp' | 'udp',
        ports: portList(rich[1]!, '-'),
        narrowed: /source address=/.test(text),
        raw: cite(line),
      });
    }
  }
}

/** Rules and default policies from `iptables -S`, `nft list ruleset`, `ufw status [verbose]`, `firewall-cmd --list-all`. */
export function parseFirewall(text: unknown): FirewallFacts {
  const lines = splitLines(text);
  const facts: FirewallFacts = { rules: [], policies: [] };
  for (const line of lines) {
    const parsed = iptablesLine(line);
    if (!parsed) continue;
    if ('narrowed' in parsed) facts.rules.push(parsed);
    else facts.policies.push(parsed);
  }
  for (const parsed of nftRules(lines)) {
    if ('narrowed' in parsed) facts.rules.push(parsed);
    else facts.policies.push(parsed);
  }
  ufw(lines, facts);
  firewalld(lines, facts);
  return facts;
}

export interface PortVerdict {
  action: FirewallAction;
  /** The rule or policy line that decides it. */
  raw: string;
  byPolicy: boolean;
}

function covers(rule: FirewallRule, port: number, loopback: boolean): boolean {
  if (rule.narrowed) return false;
  if (rule.protocol === 'udp') return false;
  if (rule.ports && !rule.ports.some((range) => port >= range.from && port <= range.to)) return false;
  if (rule.iface) return rule.iface === 'lo' ? loopback : !loopback;
  return true;
}

/**
 * What each firewall does to a new TCP connection to `port` arriving on the input path: the first
 * matching rule wins (iptables, nft), then the chain policy. ufw and firewalld always let loopback
 * traffic through before their own rules, so for loopback only iptables/nft rules count.
 */
export function tcpPortVerdicts(facts: FirewallFacts, port: number, loopback: boolean): PortVerdict[] {
  const verdicts: PortVerdict[] = [];
  const tools: FirewallTool[] = ['iptables', 'nft', 'ufw', 'firewalld'];
  for (const tool of tools) {
    if (tool === 'ufw' && facts.ufwInactive) continue;
    if (loopback && (tool === 'ufw' || tool === 'firewalld')) continue;
    const rules = facts.rules.filter((rule) => rule.tool === tool && rule.chain === 'input');
    const policies = facts.policies.filter((policy) => policy.tool === tool && policy.chain === 'input');
    if (rules.length === 0 && policies.length === 0) continue;
    // ufw lists allows and denies in its own order; iptables and nft evaluate top to bottom.
    const match = rules.find((rule) => covers(rule, port, loopback));
    if (match) {
      verdicts.push({ action: match.action, raw: match.raw, byPolicy: false });
      continue;
    }
    const policy = policies[policies.length - 1];
    if (policy) verdicts.push({ action: policy.action, raw: policy.raw, byPolicy: true });
  }
  return verdicts;
}
