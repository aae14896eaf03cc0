/**
 * `npm run demo`: the product end to end on this machine with embedded defaults. A real lab host (its
 * own network namespace, sshd, nginx, supervisord, Redis and an ONLYOFFICE-like docservice) is broken
 * for real, diagnosed over real SSH with a pinned host key, fixed by the remediation the diagnosis
 * names, and diagnosed again. Needs root and the Debian packages deploy/install-deps.sh installs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { runCli } from '../cli/main.js';
import { renderFinding } from '../cli/render.js';
import { parseConfig, resolveHost } from '../config/index.js';
import { diagnoseHost } from '../diagnosis/diagnose.js';
import { isLabFault, Lab, type LabFault } from '../lab/index.js';
import { remediateHost } from '../remediation/index.js';
import { bindRunbook, defaultRunbook } from '../runbooks/index.js';
import { SshPool } from '../ssh/index.js';

const HOST = 'docs-demo';
const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const say = (text: string) => process.stdout.write(`\n${color ? `\u001b[1m${text}\u001b[0m` : text}\n`);

function chosenFault(): LabFault {
  const requested = process.argv[2] ?? 'backend_down';
  if (!isLabFault(requested)) throw new Error(`unknown fault "${requested}"`);
  return requested;
}

async function main(): Promise<number> {
  const fault = chosenFault();
  say(`1. Starting lab host ${HOST} and breaking it for real (${fault})…`);
  const lab = await Lab.create();
  const dir = await mkdtemp(path.join(tmpdir(), 'oo-demo-'));
  const pool = new SshPool({ connectTimeoutMs: 5000 });
  try {
    await lab.addHost({ name: HOST, fault });
    const configFile = path.join(dir, 'oo.yaml');
    const configText = stringify({ hosts: lab.inventory() });
    await writeFile(configFile, configText);
    say(`2. Inventory (${configFile}): the host key is pinned, never trusted on first use.`);
    process.stdout.write(configText);

    say(`3. oo diagnose ${HOST} --config ${configFile}`);
    const code = await runCli(['diagnose', HOST, '--config', configFile]);
    process.stdout.write(`(exit code ${code})\n`);

    const host = resolveHost(parseConfig(configText, configFile), HOST);
    const runbook = bindRunbook(defaultRunbook());
    const connect = () => pool.connect(host);
    const finding = await diagnoseHost(host, { runbook, connect });
    const fix = finding.causes[0]?.remediations[0];
    if (!fix) {
      say('No remediation fits this fault: it needs a person (the evidence above says where to look).');
      return finding.verdict === 'healthy' ? 0 : 1;
    }
    say(`4. Remediation ${fix.id} — ${fix.title} (risk ${fix.risk}); approved here by you, the operator running the demo.`);
    const outcome = await remediateHost(host, fix.id, { runbook, runner: await connect() });
    for (const step of outcome.steps) {
      process.stdout.write(`   $ ${step.command.split('\n')[0]}${step.command.includes('\n') ? ' …' : ''}\n     exit ${step.exitCode}, ${step.durationMs} ms\n`);
    }
    process.stdout.write(`   outcome: ${outcome.status}${outcome.rolledBack ? ' (rolled back)' : ''}\n`);

    say(`5. Diagnosing ${HOST} again`);
    const after = await diagnoseHost(host, { runbook, connect });
    process.stdout.write(`${renderFinding(after, { color, width: process.stdout.columns ?? 120 })}\n`);
    return after.verdict === 'healthy' ? 0 : 1;
  } finally {
    await pool.close();
    await lab.destroy();
    await rm(dir, { recursive: true, force: true });
    say('Lab host removed.');
  }
}

process.exitCode = await main().catch((error: unknown) => {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
  return 2;
});
