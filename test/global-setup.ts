import { execFileSync } from 'node:child_process';
import path from 'node:path';

// Tests that run the installed `oo` binary (bin/oo.js → dist/) must never run yesterday's build.
export default function buildOnce(): void {
  const root = path.resolve(import.meta.dirname, '..');
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}
