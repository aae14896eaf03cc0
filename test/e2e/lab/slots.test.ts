import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { runCommand, sleep } from '../../../src/lab/commands.js';
import { cleanupStaleLabs } from '../../../src/lab/index.js';
import { HOST_DIR_MARKER, createNetwork, linkExists, netnsExists, pidsInNamespace, teardownSync } from '../../../src/lab/namespace.js';
import { SLOT_COUNT, processStartTime, releaseSlot, slotNames, slotOfNamespace, type SlotNames } from '../../../src/lab/slots.js';

const repoRoot = path.resolve(import.meta.dirname, '../../..');
const viteNode = path.join(repoRoot, 'node_modules/.bin/vite-node');
const fixture = (name: string) => path.join(import.meta.dirname, 'fixtures', name);

/** Slots far above anything a lab reaches (it takes the lowest free one), different per worker. */
function farSlot(offset: number): SlotNames {
  return slotNames(SLOT_COUNT - 1 - ((process.pid % 500) * 8 + offset));
}

async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

/** A namespace as a crashed lab leaves it: veth, addresses, and a process still running inside. */
async function leftoverNamespace(names: SlotNames): Promise<{ ended: Promise<unknown> }> {
  await createNetwork(names);
  const inside = spawn('ip', ['netns', 'exec', names.namespace, 'sleep', '300'], { stdio: 'ignore', detached: true });
  inside.unref();
  const ended = new Promise((resolve) => inside.once('exit', (_code, signal) => resolve(signal)));
  for (let attempt = 0; attempt < 100 && pidsInNamespace(names.namespace).length === 0; attempt += 1) await sleep(20);
  expect(pidsInNamespace(names.namespace)).toContain(inside.pid);
  // Wrapped: an async function returning the promise itself would wait for the process to end.
  return { ended };
}

async function hostDirWithMarker(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'oo-lab-slot-test-'));
  await writeFile(path.join(dir, HOST_DIR_MARKER), 'test\n');
  return dir;
}

function readLine(child: ChildProcessWithoutNullStreams, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let errors = '';
    const timer = setTimeout(() => reject(new Error(`no line within ${timeoutMs} ms; stderr: ${errors}`)), timeoutMs);
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const end = buffered.indexOf('\n');
      if (end >= 0) {
        clearTimeout(timer);
        resolve(buffered.slice(0, end));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before printing a line; stderr: ${errors}`));
    });
  });
}

// Other processes' labs sweep stale slots too (every Lab.create does), so the tests build their
// leftovers under a live lock of their own and only then make them stale, and check the end state
// rather than which sweep got there first.
function ownLock(names: SlotNames, hostDir = ''): Promise<void> {
  return writeFile(
    names.lockPath,
    JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid), hostName: 'test', hostDir, createdAt: '' }),
  );
}

describe('lab slots: names, addresses and ownership across processes', () => {
  it('cuts 10.231.0.0/16 into /30s, one per slot, with names that fit interface limits', () => {
    expect(slotNames(0)).toMatchObject({
      namespace: 'oo-lab-0',
      vethHost: 'oolab0h',
      vethNs: 'oolab0g',
      gatewayAddress: '10.231.0.1',
      address: '10.231.0.2',
      prefixLength: 30,
      lockPath: '/run/oo-lab/slot-0.lock',
    });
    expect(slotNames(64)).toMatchObject({ gatewayAddress: '10.231.1.1', address: '10.231.1.2' });
    const last = slotNames(SLOT_COUNT - 1);
    expect(last).toMatchObject({ gatewayAddress: '10.231.255.253', address: '10.231.255.254' });
    expect(last.vethHost.length).toBeLessThanOrEqual(15);
    expect(() => slotNames(SLOT_COUNT)).toThrow(/outside/);
    expect(() => slotNames(-1)).toThrow(/outside/);
    expect(() => slotNames(1.5)).toThrow(/outside/);
    expect(slotOfNamespace('oo-lab-17')).toBe(17);
    expect(slotOfNamespace('oo-lab-017')).toBeNull();
    expect(slotOfNamespace('oo-fx')).toBeNull();
    expect(slotOfNamespace(`oo-lab-${SLOT_COUNT}`)).toBeNull();
  });

  it('hands distinct slots to processes claiming at the same time', async () => {
    const holders = Array.from({ length: 3 }, () =>
      spawn(viteNode, [fixture('hold-slots.ts'), '6'], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] }),
    );
    try {
      const lines = await Promise.all(holders.map((child) => readLine(child, 60_000)));
      const slots = lines.flatMap((line) => JSON.parse(line) as number[]);
      expect(slots).toHaveLength(18);
      expect(new Set(slots).size).toBe(18);
      for (const slot of slots) {
        const owner = JSON.parse(readFileSync(slotNames(slot).lockPath, 'utf8')) as { pid: number };
        expect(holders.map((child) => child.pid)).toContain(owner.pid);
      }
    } finally {
      for (const child of holders) child.stdin.end();
      await Promise.all(holders.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))));
    }
  }, 90_000);

  it('reclaims a slot whose owner died: kills what runs inside, removes namespace, veth, folder and lock', async () => {
    const names = farSlot(0);
    const hostDir = await hostDirWithMarker();
    await ownLock(names, hostDir);
    const { ended: inside } = await leftoverNamespace(names);
    try {
      const dead = { pid: await deadPid(), startTime: '1', hostName: 'crashed', hostDir, createdAt: new Date().toISOString() };
      await writeFile(names.lockPath, JSON.stringify(dead));
      const report = await cleanupStaleLabs();
      expect(report.liveNamespaces).not.toContain(names.namespace);
      expect(netnsExists(names.namespace)).toBe(false);
      expect(linkExists(names.vethHost)).toBe(false);
      expect(existsSync(names.lockPath)).toBe(false);
      expect(existsSync(hostDir)).toBe(false);
      expect(await Promise.race([inside, sleep(5_000).then(() => 'still running')])).toBe('SIGKILL');
    } finally {
      teardownSync(names, hostDir);
      releaseSlot(names);
    }
  }, 90_000);

  it('removes a lab namespace that no lock claims, and leaves a live owner’s slot alone', async () => {
    const orphan = farSlot(1);
    const live = farSlot(2);
    await ownLock(orphan);
    await ownLock(live);
    await leftoverNamespace(orphan);
    await leftoverNamespace(live);
    try {
      releaseSlot(orphan);
      const report = await cleanupStaleLabs();
      expect(report.liveNamespaces).not.toContain(orphan.namespace);
      expect(netnsExists(orphan.namespace)).toBe(false);
      expect(pidsInNamespace(orphan.namespace)).toEqual([]);
      expect(report.liveNamespaces).toContain(live.namespace);
      expect(report.removedNamespaces).not.toContain(live.namespace);
      expect(netnsExists(live.namespace)).toBe(true);
      expect(existsSync(live.lockPath)).toBe(true);
    } finally {
      teardownSync(orphan, '');
      teardownSync(live, '');
      releaseSlot(live);
    }
    expect(existsSync(live.lockPath)).toBe(false);
  }, 90_000);

  it('tears a host down when its process exits without destroy()', async () => {
    const child = spawn(viteNode, [fixture('lab-then-exit.ts'), 'exit'], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    const { namespace, root } = JSON.parse(await readLine(child, 90_000)) as { namespace: string; root: string };
    if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    expect(netnsExists(namespace)).toBe(false);
    expect(pidsInNamespace(namespace)).toEqual([]);
    expect(existsSync(path.join(root, 'hosts', 'left-behind'))).toBe(false);
    expect(existsSync(slotNames(slotOfNamespace(namespace)!).lockPath)).toBe(false);
    // The lab's own folder, with its private key, goes too.
    expect(existsSync(root)).toBe(false);
  }, 120_000);

  it('leaves a SIGKILLed process’s host behind, and the next cleanup reclaims it', async () => {
    const child = spawn(viteNode, [fixture('lab-then-exit.ts'), 'hang'], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    const { namespace, root } = JSON.parse(await readLine(child, 90_000)) as { namespace: string; root: string };
    const names = slotNames(slotOfNamespace(namespace)!);
    // Alive, with its daemons, until its process is killed without a chance to clean up.
    expect(pidsInNamespace(namespace).length).toBeGreaterThan(3);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    try {
      const report = await cleanupStaleLabs();
      expect(report.liveNamespaces).not.toContain(namespace);
      expect(netnsExists(namespace)).toBe(false);
      expect(pidsInNamespace(namespace)).toEqual([]);
      expect(existsSync(names.lockPath)).toBe(false);
      expect(existsSync(root)).toBe(false);
    } finally {
      teardownSync(names, '');
      await runCommand(['rm', '-rf', root]);
    }
  }, 120_000);
});

describe('the cleanup command', () => {
  it('reports what it removed and rejects unknown arguments', async () => {
    const { cleanupCli } = await import('../../../src/lab/cleanup.js');
    let printed = '';
    expect(await cleanupCli(['--everything'], (text) => (printed += text))).toBe(2);
    expect(printed).toMatch(/unknown argument\(s\): --everything/);

    const orphan = farSlot(3);
    await ownLock(orphan);
    await leftoverNamespace(orphan);
    printed = '';
    try {
      releaseSlot(orphan);
      expect(await cleanupCli([], (text) => (printed += text))).toBe(0);
      expect(printed).toMatch(/^removed namespaces: /m);
      expect(printed).toMatch(/^left alone \(owner alive\): /m);
      expect(netnsExists(orphan.namespace)).toBe(false);
    } finally {
      teardownSync(orphan, '');
    }
  }, 90_000);
});
