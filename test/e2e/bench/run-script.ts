// Runs one of the built benchmark commands (dist/bench/*.js) as `npm run bench:*` does, for the smoke
// tests: exit code and output, nothing about speed.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../../..');

export interface ScriptRun {
  pid: number;
  code: number;
  stdout: string;
  stderr: string;
}

export function benchScript(name: string): string {
  const file = path.join(repoRoot, 'dist', 'bench', `${name}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
  return file;
}

export function runBenchScript(name: string, args: string[], timeoutMs = 540_000): Promise<ScriptRun> {
  const script = benchScript(name);
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [script, ...args], { cwd: repoRoot, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ pid: child.pid ?? -1, code, stdout, stderr });
    });
  });
}
