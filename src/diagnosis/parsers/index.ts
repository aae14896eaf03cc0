// Pure parsers: text in, typed data out. They read whatever an operator pasted or a host printed, so
// each is wrapped to return its empty result rather than throw, whatever the input.
import { parseFirewall as firewall, tcpPortVerdicts, type FirewallFacts } from './firewall.js';
import { parseListeners as listeners, type ListenerTable } from './listeners.js';
import { parseNginxConfig as nginxConfig, parseNginxTest as nginxTest, type NginxConfig, type NginxTestResult } from './nginxConfig.js';
import { parseNginxErrorLog as nginxErrorLog, type NginxErrorEvent } from './nginxErrorLog.js';
import {
  parseDependencies as dependencies,
  parseDetect as detect,
  parseDns as dns,
  parseHttpProbes as httpProbes,
  parseSshFailures as sshFailures,
  probeOk,
  type DependencyCheck,
  type Detection,
  type DnsResult,
  type HttpProbe,
  type SshFailure,
} from './ownFormats.js';
import { parseResources as resources, type ResourceFacts } from './resources.js';
import { parseSelinux as selinux, type SelinuxFacts } from './selinux.js';
import { parseServiceLog as serviceLog, type ServiceLogFinding } from './serviceLog.js';
import { parseServiceStatus as serviceStatus, type ServiceStatus } from './serviceStatus.js';
import { parseNotInstalled as notInstalled, splitSections as sections, type NotInstalled, type Section } from './text.js';

function guard<T>(parse: (text: unknown) => T, empty: () => T): (text: unknown) => T {
  return (text: unknown) => {
    try {
      return parse(text);
    } catch {
      return empty();
    }
  };
}

export const parseServiceStatus: (text: unknown) => ServiceStatus[] = guard(serviceStatus, () => []);
export const parseNginxErrorLog: (text: unknown) => NginxErrorEvent[] = guard(nginxErrorLog, () => []);
export const parseNginxConfig: (text: unknown) => NginxConfig = guard(nginxConfig, () => ({ upstreams: [], proxyPasses: [], listens: [], settings: [] }));
export const parseNginxTest: (text: unknown) => NginxTestResult = guard(nginxTest, () => ({ ok: undefined, errors: [] }));
export const parseListeners: (text: unknown) => ListenerTable = guard(listeners, () => ({ listeners: [], seen: false }));
export const parseFirewall: (text: unknown) => FirewallFacts = guard(firewall, () => ({ rules: [], policies: [] }));
export const parseSelinux: (text: unknown) => SelinuxFacts = guard(selinux, () => ({ denials: [] }));
export const parseResources: (text: unknown) => ResourceFacts = guard(resources, () => ({ disks: [], oomKills: [], noSpace: [], tooManyOpenFiles: [], openFiles: [] }));
export const parseServiceLog: (text: unknown) => ServiceLogFinding[] = guard(serviceLog, () => []);
export const parseHttpProbes: (text: unknown) => HttpProbe[] = guard(httpProbes, () => []);
export const parseDependencies: (text: unknown) => DependencyCheck[] = guard(dependencies, () => []);
export const parseDns: (text: unknown) => DnsResult[] = guard(dns, () => []);
export const parseDetect: (text: unknown) => Detection = guard(detect, () => ({}));
export const parseSshFailures: (text: unknown) => SshFailure[] = guard(sshFailures, () => []);
export const parseNotInstalled: (text: unknown) => NotInstalled[] = guard(notInstalled, () => []);
export const splitSections: (text: unknown) => Section[] = guard(sections, () => []);

export { probeOk, tcpPortVerdicts };

export type { FirewallAction, FirewallFacts, FirewallPolicy, FirewallRule, PortRange, PortVerdict } from './firewall.js';
export type { Listener, ListenerTable } from './listeners.js';
export type { ListenDirective, NginxConfig, NginxTestError, NginxTestResult, ProxyPass, ProxySetting, UpstreamBlock, UpstreamServer } from './nginxConfig.js';
export type { NginxErrorEvent, NginxErrorKind } from './nginxErrorLog.js';
export type { DependencyCheck, DependencyState, Detection, DnsResult, HttpProbe, SshFailure } from './ownFormats.js';
export type { DiskUsage, MemoryFacts, OomKill, OpenFilesUsage, ResourceFacts } from './resources.js';
export type { AvcDenial, SelinuxFacts } from './selinux.js';
export type { Dependency, ServiceLogFinding, ServiceLogKind } from './serviceLog.js';
export type { ServiceState, ServiceStatus, StatusSource } from './serviceStatus.js';
export type { NotInstalled, ParsedUrl, Section } from './text.js';
