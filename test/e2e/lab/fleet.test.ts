import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Lab, type LabHost } from '../../../src/lab/index.js';
import { runCommand } from '../../../src/lab/commands.js';
import { netnsExists } from '../../../src/lab/namespace.js';
import { ssh } from './ssh-cli.js';

const FLEET_SIZE = 12;

describe('a fleet of light lab hosts, as the benchmark uses them', () => {
  let lab: Lab;
  let fleet: LabHost[];
  let wallMs: number;

  beforeAll(async () => {
    lab = await Lab.create();
    const started = Date.now();
    fleet = await lab.addHosts(FLEET_SIZE, { namePrefix: 'fleet-', light: true, concurrency: 6 });
    wallMs = Date.now() - started;
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('names, addresses and keys every host apart and lists it in the inventory', () => {
    expect(fleet.map((host) => host.name)).toEqual(Array.from({ length: FLEET_SIZE }, (_, i) => `fleet-${i + 1}`));
    expect(new Set(fleet.map((host) => host.address)).size).toBe(FLEET_SIZE);
    expect(new Set(fleet.map((host) => host.hostKey)).size).toBe(FLEET_SIZE);
    const inventory = lab.inventory();
    expect(Object.keys(inventory).sort()).toEqual(fleet.map((host) => host.name).sort());
    expect(inventory['fleet-1']).toEqual({
      address: fleet[0]!.address,
      port: 22,
      user: 'oolab',
      identityFile: lab.identityFile,
      hostKey: fleet[0]!.hostKey,
      install: 'deb',
      processManager: 'supervisor',
      sudo: true,
    });
  });

  it('answers healthy over SSH on every host, each with its own name', async () => {
    const answers = await Promise.all(
      fleet.map((host) =>
        ssh(host, lab.knownHostsFile, "hostname; curl -s http://127.0.0.1/healthcheck; echo; sudo -n supervisorctl status | awk '{print $1, $2}'"),
      ),
    );
    answers.forEach((answer, i) => {
      expect(answer.stdout.trim().split('\n')).toEqual([`fleet-${i + 1}`, 'true', 'ds:converter RUNNING', 'ds:docservice RUNNING']);
    });
  });

  it('reports start time and memory for the fleet', async () => {
    const memory = await Promise.all(fleet.map((host) => host.memory()));
    const startups = fleet.map((host) => host.startupMs).sort((a, b) => a - b);
    const mib = (kib: number) => (kib / 1024).toFixed(1);
    const rss = memory.reduce((sum, m) => sum + m.rssKiB, 0) / FLEET_SIZE;
    const pss = memory.reduce((sum, m) => sum + m.pssKiB, 0) / FLEET_SIZE;
    console.log(
      `${FLEET_SIZE} light hosts in ${wallMs} ms (6 at a time); per host: start ${startups[0]}–${startups[FLEET_SIZE - 1]} ms ` +
        `(median ${startups[Math.floor(FLEET_SIZE / 2)]}), ${memory[0]!.processes} processes, RSS sum ${mib(rss)} MiB, PSS sum ${mib(pss)} MiB`,
    );
    for (const m of memory) {
      // A light host: init, redis-less supervisord with docservice and converter, nginx with its workers, sshd.
      expect(m.processes).toBeGreaterThanOrEqual(7);
      expect(m.pssKiB).toBeLessThan(80 * 1024);
    }
  });

  it('tears every host down with destroy()', async () => {
    const namespaces = fleet.map((host) => host.namespace);
    await Promise.all(fleet.slice(0, 3).map((host) => host.destroy()));
    for (const namespace of namespaces.slice(0, 3)) expect(netnsExists(namespace)).toBe(false);
    expect(lab.hosts()).toHaveLength(FLEET_SIZE - 3);
    expect(lab.hosts().map((host) => host.name)).not.toContain('fleet-1');
    await expect(fleet[0]!.exec(['true'])).rejects.toThrow(/destroyed/);
    // Addresses of hosts that are gone lead nowhere: the lab's range is blackholed on the machine.
    const routes = await runCommand(['ip', 'route', 'show', 'match', fleet[0]!.address]);
    expect(routes.stdout).toMatch(/^blackhole 10\.231\.0\.0\/16/m);
    expect(routes.stdout).not.toMatch(/\/30 dev/);
    const lookup = await runCommand(['ip', 'route', 'get', fleet[0]!.address]);
    expect(lookup.code).not.toBe(0);
  });
});
