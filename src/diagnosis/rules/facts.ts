// Everything the parsers can read from one evidence object, each item tagged with the step it came
// from so a cause can cite the exact line. Every parser reads every step: operators paste anything
// under `other`, and `systemctl status` embeds journal lines from nginx or docservice.
import {
  parseDependencies,
  parseDns,
  parseFirewall,
  parseHttpProbes,
  parseListeners,
  parseNginxConfig,
  parseNginxErrorLog,
  parseNginxTest,
  parseResources,
  parseSelinux,
  parseServiceLog,
  parseServiceStatus,
  parseSshFailures,
  type AvcDenial,
  type DependencyCheck,
  type DiskUsage,
  type DnsResult,
  type FirewallFacts,
  type HttpProbe,
  type Listener,
  type ListenDirective,
  type NginxErrorEvent,
  type NginxTestError,
  type OomKill,
  type OpenFilesUsage,
  type ProxyPass,
  type ProxySetting,
  type ServiceLogFinding,
  type ServiceStatus,
  type SshFailure,
  type UpstreamBlock,
} from '../parsers/index.js';
import type { Evidence } from '../types.js';
import { EVIDENCE_KEYS, type EvidenceKey } from '../vocabulary.js';

export type Cited<T> = T & { step: EvidenceKey };
export interface Line {
  raw: string;
}

export interface Facts {
  install: string | undefined;
  /** Steps that held any non-blank text. */
  stepsWithText: EvidenceKey[];
  services: Cited<ServiceStatus>[];
  nginxErrors: Cited<NginxErrorEvent>[];
  upstreams: Cited<UpstreamBlock>[];
  proxyPasses: Cited<ProxyPass>[];
  listens: Cited<ListenDirective>[];
  proxySettings: Cited<ProxySetting>[];
  nginxTestErrors: Cited<NginxTestError>[];
  nginxTestFailed: Cited<Line>[];
  listeners: Cited<Listener>[];
  /** A listener table (ss/netstat) was seen in `ports` or `other`: a port missing from it has no listener. */
  listenersSeen: boolean;
  listenerHeader: Cited<Line> | undefined;
  firewalls: Array<{ step: EvidenceKey; facts: FirewallFacts }>;
  selinuxMode: Cited<Line & { mode: 'enforcing' | 'permissive' | 'disabled' }> | undefined;
  selinuxBooleanOff: Cited<Line> | undefined;
  avcDenials: Cited<AvcDenial>[];
  disks: Cited<DiskUsage>[];
  oomKills: Cited<OomKill>[];
  noSpace: Cited<Line>[];
  tooManyOpenFiles: Cited<Line>[];
  openFiles: Cited<OpenFilesUsage>[];
  logFindings: Cited<ServiceLogFinding>[];
  probes: Cited<HttpProbe>[];
  dependencies: Cited<DependencyCheck>[];
  dns: Cited<DnsResult>[];
  sshFailures: Cited<SshFailure>[];
}

function tag<T extends object>(step: EvidenceKey, items: T[]): Cited<T>[] {
  return items.map((item) => ({ ...item, step }));
}

function emptyFacts(install: string | undefined): Facts {
  return {
    install,
    stepsWithText: [],
    services: [],
    nginxErrors: [],
    upstreams: [],
    proxyPasses: [],
    listens: [],
    proxySettings: [],
    nginxTestErrors: [],
    nginxTestFailed: [],
    listeners: [],
    listenersSeen: false,
    listenerHeader: undefined,
    firewalls: [],
    selinuxMode: undefined,
    selinuxBooleanOff: undefined,
    avcDenials: [],
    disks: [],
    oomKills: [],
    noSpace: [],
    tooManyOpenFiles: [],
    openFiles: [],
    logFindings: [],
    probes: [],
    dependencies: [],
    dns: [],
    sshFailures: [],
  };
}

function readStep(facts: Facts, step: EvidenceKey, text: string): void {
  facts.stepsWithText.push(step);
  const docker = facts.install === 'docker';
  facts.services.push(
    ...tag(
      step,
      parseServiceStatus(text).map((status) => (docker && status.service === 'container' ? { ...status, service: 'docservice' } : status)),
    ),
  );
  facts.nginxErrors.push(...tag(step, parseNginxErrorLog(text)));
  const config = parseNginxConfig(text);
  facts.upstreams.push(...tag(step, config.upstreams));
  facts.proxyPasses.push(...tag(step, config.proxyPasses));
  facts.listens.push(...tag(step, config.listens));
  facts.proxySettings.push(...tag(step, config.settings));
  const test = parseNginxTest(text);
  facts.nginxTestErrors.push(...tag(step, test.errors));
  if (test.ok === false && test.verdictLine) facts.nginxTestFailed.push({ raw: test.verdictLine, step });
  const table = parseListeners(text);
  facts.listeners.push(...tag(step, table.listeners.filter((listener) => listener.protocol === 'tcp')));
  if (table.seen && (step === 'ports' || step === 'other')) {
    facts.listenersSeen = true;
    if (table.header) facts.listenerHeader = facts.listenerHeader ?? { raw: table.header, step };
  }
  const firewall = parseFirewall(text);
  if (firewall.rules.length > 0 || firewall.policies.length > 0) facts.firewalls.push({ step, facts: firewall });
  readSelinux(facts, step, text);
  const resources = parseResources(text);
  facts.disks.push(...tag(step, resources.disks));
  facts.oomKills.push(...tag(step, resources.oomKills));
  facts.noSpace.push(...resources.noSpace.map((raw) => ({ raw, step })));
  facts.tooManyOpenFiles.push(...resources.tooManyOpenFiles.map((raw) => ({ raw, step })));
  facts.openFiles.push(...tag(step, resources.openFiles));
  facts.logFindings.push(...tag(step, parseServiceLog(text)));
  facts.probes.push(...tag(step, parseHttpProbes(text)));
  facts.dependencies.push(...tag(step, parseDependencies(text)));
  facts.dns.push(...tag(step, parseDns(text)));
  // An SSH failure only means the host was unreachable when the operator says so by pasting it.
  if (step === 'other') facts.sshFailures.push(...tag(step, parseSshFailures(text)));
}

function readSelinux(facts: Facts, step: EvidenceKey, text: string): void {
  const selinux = parseSelinux(text);
  if (selinux.mode && selinux.modeLine) facts.selinuxMode = { mode: selinux.mode, raw: selinux.modeLine, step };
  if (selinux.httpdCanNetworkConnect === false && selinux.booleanLine) facts.selinuxBooleanOff = { raw: selinux.booleanLine, step };
  facts.avcDenials.push(...tag(step, selinux.denials));
}

/** Reads every evidence key with every parser. Non-string values (bad JSON) are ignored, never thrown on. */
export function gatherFacts(evidence: Evidence | null | undefined): Facts {
  const source = (evidence ?? {}) as Record<string, unknown>;
  const install = typeof source.install === 'string' ? source.install : undefined;
  const facts = emptyFacts(install);
  for (const step of EVIDENCE_KEYS) {
    const text = source[step];
    if (typeof text === 'string' && text.trim().length > 0) readStep(facts, step, text);
  }
  return facts;
}
