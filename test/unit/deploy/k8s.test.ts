// deploy/k8s/ cannot be applied here (no cluster). Every object is validated against the Kubernetes
// OpenAPI schema of its kind (kubernetes-models), then checked for how the objects fit together: the
// Service and the PodDisruptionBudget select the right pods, the probes hit /readyz and /healthz on the
// port the container serves, the Secrets and the ConfigMap are wired in, every pod runs as non-root, and
// the oo.yaml in the ConfigMap is a valid configuration.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';

const DIR = path.resolve(import.meta.dirname, '../../../deploy/k8s');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

type Model = { validate(): void };
const MODELS: Record<string, (data: K8sObject) => Model> = {
  'apps/v1 Deployment': (data) => new Deployment(data as never),
  'apps/v1 StatefulSet': (data) => new StatefulSet(data as never),
  'policy/v1 PodDisruptionBudget': (data) => new PodDisruptionBudget(data as never),
  'v1 ConfigMap': (data) => new ConfigMap(data as never),
  'v1 Namespace': (data) => new Namespace(data as never),
  'v1 Service': (data) => new Service(data as never),
};

function readManifests(): { file: string; object: K8sObject }[] {
  const out: { file: string; object: K8sObject }[] = [];
  for (const file of readdirSync(DIR).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml').sort()) {
    for (const doc of parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      out.push({ file, object: doc.toJS() as K8sObject });
    }
  }
  return out;
}

const manifests = readManifests();
const find = (kind: string, name: string) => {
  const found = manifests.find(({ object }) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in deploy/k8s`);
  return found.object as K8sObject & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
};

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

const bot = find('Deployment', 'oo-bot');
const worker = find('Deployment', 'oo-worker');
const redis = find('StatefulSet', 'oo-redis');
const container = (workload: Record<string, any>) => workload.spec.template.spec.containers[0]; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('deploy/k8s', () => {
  it('holds only kinds it knows, each valid against the Kubernetes schema of its kind', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(8);
    for (const { file, object } of manifests) {
      const model = MODELS[`${object.apiVersion} ${object.kind}`];
      expect(model, `${file}: ${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(() => model!(object).validate(), `${file}: ${object.kind} ${object.metadata.name}`).not.toThrow();
    }
  });

  it('the schema check is live: a probe port of the wrong type is refused', () => {
    const broken = structuredClone(bot);
    container(broken).readinessProbe.httpGet.port = { name: 'http' };
    expect(() => new Deployment(broken as never).validate()).toThrow(/port/);
  });

  it('kustomization.yaml lists exactly the manifest files', () => {
    const kustomization = parseAllDocuments(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[]; namespace: string };
    expect([...kustomization.resources].sort()).toEqual([...new Set(manifests.map(({ file }) => file))].sort());
    expect(find('Namespace', kustomization.namespace)).toBeDefined();
  });

  it('runs `serve` and `worker` from the same image, workers scaled out', () => {
    expect(container(bot).args).toEqual(['serve']);
    expect(container(worker).args).toEqual(['worker']);
    expect(container(worker).image).toBe(container(bot).image);
    expect(worker.spec.replicas).toBeGreaterThanOrEqual(2);
  });

  it.each([
    ['bot', bot],
    ['worker', worker],
  ])('%s: probes /readyz and /healthz on the port the process listens on (PORT)', (_name, workload) => {
    const c = container(workload);
    const port = c.ports.find((p: { name: string }) => p.name === c.readinessProbe.httpGet.port);
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.livenessProbe.httpGet.port).toBe(c.readinessProbe.httpGet.port);
    expect(String(port.containerPort)).toBe(c.env.find((e: { name: string }) => e.name === 'PORT').value);
    expect(matches(workload.spec.selector.matchLabels, workload.spec.template.metadata.labels)).toBe(true);
  });

  it('the Service selects the bot pods only, on a port the bot container names', () => {
    const service = find('Service', 'oo-bot');
    expect(matches(service.spec.selector, bot.spec.template.metadata.labels)).toBe(true);
    expect(matches(service.spec.selector, worker.spec.template.metadata.labels)).toBe(false);
    const names = container(bot).ports.map((p: { name: string }) => p.name);
    for (const port of service.spec.ports) expect(names).toContain(port.targetPort);
  });

  it('the PodDisruptionBudget selects the worker pods only and leaves one running', () => {
    const pdb = find('PodDisruptionBudget', 'oo-worker');
    expect(matches(pdb.spec.selector.matchLabels, worker.spec.template.metadata.labels)).toBe(true);
    expect(matches(pdb.spec.selector.matchLabels, bot.spec.template.metadata.labels)).toBe(false);
    expect(matches(pdb.spec.selector.matchLabels, redis.spec.template.metadata.labels)).toBe(false);
    expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb.spec.minAvailable).toBeLessThan(worker.spec.replicas);
  });

  it('takes the Slack and alert tokens from a Secret, never from a literal value', () => {
    const envOf = (workload: Record<string, any>) => new Map(container(workload).env.map((e: { name: string }) => [e.name, e])); // eslint-disable-line @typescript-eslint/no-explicit-any
    const botEnv = envOf(bot);
    const workerEnv = envOf(worker);
    for (const name of ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN', 'OO_ALERT_TOKEN']) {
      const entry = botEnv.get(name) as { value?: string; valueFrom?: { secretKeyRef?: { name: string } } };
      expect(entry?.value, name).toBeUndefined();
      expect(entry?.valueFrom?.secretKeyRef?.name, name).toBe('oo-responder-secrets');
    }
    expect((workerEnv.get('SLACK_BOT_TOKEN') as { valueFrom: { secretKeyRef: { name: string } } }).valueFrom.secretKeyRef.name).toBe('oo-responder-secrets');
    for (const [name, entry] of workerEnv) if (/TOKEN|SECRET/.test(String(name))) expect((entry as { value?: string }).value, String(name)).toBeUndefined();
  });

  it('mounts the ConfigMap at OO_CONFIG and the SSH key Secret where the ConfigMap oo.yaml expects it', () => {
    const configMap = find('ConfigMap', 'oo-responder-config');
    const config = parseConfig(configMap.data['oo.yaml'], 'deploy/k8s/configmap.yaml#oo.yaml');
    for (const workload of [bot, worker]) {
      const c = container(workload);
      const volumes = new Map(workload.spec.template.spec.volumes.map((v: { name: string }) => [v.name, v]));
      const mountOf = (predicate: (volume: any) => boolean) => c.volumeMounts.find((m: { name: string }) => predicate(volumes.get(m.name))); // eslint-disable-line @typescript-eslint/no-explicit-any
      const configMount = mountOf((v) => v?.configMap?.name === 'oo-responder-config');
      expect(configMount.mountPath).toBe(c.env.find((e: { name: string }) => e.name === 'OO_CONFIG').value);
      expect(configMount.subPath).toBe('oo.yaml');
      const sshMount = mountOf((v) => v?.secret?.secretName === 'oo-responder-ssh');
      expect(sshMount.readOnly).toBe(true);
      for (const host of Object.values(config.hosts)) {
        if (host.identityFile) expect(path.dirname(host.identityFile)).toBe(sshMount.mountPath);
      }
    }
  });

  it('points REDIS_URL at the Redis Service, which selects the Redis pod, run with noeviction and AOF', () => {
    const service = find('Service', 'oo-redis');
    expect(matches(service.spec.selector, redis.spec.template.metadata.labels)).toBe(true);
    for (const workload of [bot, worker]) {
      const url = new URL(container(workload).env.find((e: { name: string }) => e.name === 'REDIS_URL').value);
      expect(url.hostname).toBe(service.metadata.name);
      expect(Number(url.port)).toBe(service.spec.ports[0].port);
    }
    const args: string[] = container(redis).args;
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag('--maxmemory-policy')).toBe('noeviction');
    expect(flag('--appendonly')).toBe('yes');
    expect(flag('--dir')).toBe(container(redis).volumeMounts[0].mountPath);
    expect(redis.spec.volumeClaimTemplates[0].metadata.name).toBe(container(redis).volumeMounts[0].name);
  });

  it.each([
    ['bot', bot],
    ['worker', worker],
    ['redis', redis],
  ])('%s: runs as non-root with no privilege escalation, no capabilities, read-only root', (_name, workload) => {
    const pod = workload.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(pod.securityContext.seccompProfile.type).toBe('RuntimeDefault');
    for (const c of pod.containers) {
      expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
      expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
      // Every container has a memory limit so one leak cannot starve the node.
      expect(c.resources.limits.memory).toBeDefined();
    }
  });
});
