// The fleet benchmark's pre-flight: a missing program or Ansible plugin is named, with the package that
// provides it, before any lab host is built. The programs are stand-in scripts on a PATH of their own.
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { ANSIBLE_JSON_CALLBACK, ansibleDocHasPlugin, missingBenchTools } from '../../../src/bench/tools.js';

const dirs: string[] = [];

/** A folder holding sh and a stand-in for each named program (printing `output`), as the only PATH. */
async function fakePath(programs: readonly string[], ansibleDocOutput: string): Promise<NodeJS.ProcessEnv> {
  const dir = await mkdtemp(path.join(tmpdir(), 'oo-preflight-'));
  dirs.push(dir);
  await symlink('/bin/sh', path.join(dir, 'sh'));
  for (const program of programs) {
    const file = path.join(dir, program);
    const body = program === 'ansible-doc' ? `printf '%s' '${ansibleDocOutput}'` : 'exit 0';
    await writeFile(file, `#!/bin/sh\n${body}\n`);
    await chmod(file, 0o755);
  }
  return { PATH: dir };
}

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const ALL = ['ansible', 'ansible-playbook', 'ansible-doc', 'parallel-ssh', 'ssh'];
const documented = JSON.stringify({ [ANSIBLE_JSON_CALLBACK]: { doc: {} } });

describe('the fleet benchmark pre-flight', () => {
  it('finds nothing missing when every program and the json callback are there', async () => {
    expect(await missingBenchTools(await fakePath(ALL, documented))).toEqual([]);
  });

  it("names the json callback and the package that carries it when ansible-core alone is installed", async () => {
    const missing = await missingBenchTools(await fakePath(ALL, '{}'));
    expect(missing).toEqual([`ansible's stdout callback ansible.posix.json (apt-get install ansible)`]);
  });

  it('names each missing program with its package', async () => {
    const missing = await missingBenchTools(await fakePath(['ansible', 'ansible-doc', 'ssh'], documented));
    expect(missing).toEqual(['the program ansible-playbook (apt-get install ansible-core)', 'the program parallel-ssh (apt-get install pssh)']);
  });

  it('reads ansible-doc -j output: {} or garbage is not the plugin', () => {
    expect(ansibleDocHasPlugin('{}', ANSIBLE_JSON_CALLBACK)).toBe(false);
    expect(ansibleDocHasPlugin('[WARNING]: not found', ANSIBLE_JSON_CALLBACK)).toBe(false);
    expect(ansibleDocHasPlugin(documented, ANSIBLE_JSON_CALLBACK)).toBe(true);
  });
});
