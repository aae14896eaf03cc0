/**
 * `npm run demo`: the whole product on this machine with embedded defaults. A real lab host (its own
 * network namespace, sshd, nginx, supervisord, Redis and an ONLYOFFICE-like docservice) is broken for
 * real; a local redis-server backs the queue; `oo serve` runs against a local stand-in of the Slack Web
 * API that prints every message readably here. Alertmanager fires, the bot opens a thread, diagnoses
 * the host over SSH, offers the fix, an on-call engineer approves it (a click signed exactly as Slack
 * signs it), the fix runs once, is verified, and the incident resolves. Needs root and the Debian
 * packages deploy/install-deps.sh installs.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { LogLevel } from '@slack/bolt';
import { stringify } from 'yaml';
import { startService, type RunningService } from '../app/index.js';
import { createLogger } from '../app/logger.js';
import { runCli } from '../cli/main.js';
import { parseConfig } from '../config/index.js';
import { isLabFault, Lab, type LabFault } from '../lab/index.js';
import { startRedisServer, type TestRedisServer } from '../testing/redis-server.js';
import {
  alertmanagerBody,
  buttonsOf,
  clickPayload,
  postAlert,
  postSlack,
  waitFor,
} from '../testing/slack-requests.js';
import { SlackStandin } from '../testing/slack-standin.js';

const HOST = 'docs-demo';
const CHANNEL = 'C0ONCALL';
const ON_CALL = 'U0ONCALL';
const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const say = (text: string) => process.stdout.write(`\n${color ? `\u001b[1;36m${text}\u001b[0m` : `== ${text}`}\n`);

function chosenFault(): LabFault {
  const requested = process.argv[2] ?? 'backend_down';
  if (!isLabFault(requested) || requested === 'host_unreachable') {
    throw new Error(`"${requested}" is not a fault the demo can fix; try backend_down, example_not_started or dependency_redis`);
  }
  return requested;
}

async function main(): Promise<number> {
  const fault = chosenFault();
  const signingSecret = randomBytes(24).toString('hex');
  const alertToken = randomBytes(24).toString('hex');
  let lab: Lab | undefined;
  let redis: TestRedisServer | undefined;
  let standin: SlackStandin | undefined;
  let service: RunningService | undefined;
  try {
    say(`Starting lab host ${HOST} and breaking it for real (${fault})`);
    lab = await Lab.create();
    const host = await lab.addHost({ name: HOST, fault });
    say('Starting a local Redis and the Slack stand-in (every message the bot sends is printed below)');
    redis = await startRedisServer();
    standin = await SlackStandin.start({
      channels: [{ id: CHANNEL, name: 'oncall' }],
      users: [{ id: ON_CALL, name: 'alice', real_name: 'Alice On-Call' }],
      print: process.stdout,
    });
    const configText = stringify({
      hosts: lab.inventory(),
      slack: { channel: CHANNEL },
      policy: { approvers: { low: [ON_CALL], medium: [ON_CALL], high: [ON_CALL] }, channels: [CHANNEL], highRisk: { secondApprover: false } },
    });
    say('oo serve, with this oo.yaml (host key pinned, never trusted on first use):');
    process.stdout.write(configText);
    service = await startService({
      config: parseConfig(configText, 'oo.yaml (demo)'),
      mode: 'serve',
      host: '127.0.0.1',
      env: {
        SLACK_BOT_TOKEN: standin.botToken,
        SLACK_SIGNING_SECRET: signingSecret,
        SLACK_API_URL: standin.apiUrl,
        REDIS_URL: redis.url,
        PORT: '0',
        OO_ALERT_TOKEN: alertToken,
      },
      logger: createLogger({ level: LogLevel.WARN }),
    });
    const base = `http://127.0.0.1:${service.port}`;

    say('Alertmanager fires: ONLYOFFICE answers 502');
    const accepted = await postAlert(base, 'alertmanager', alertmanagerBody([{ alertname: 'OnlyofficeBadGateway', instance: `${host.address}:9100` }]), alertToken);
    process.stdout.write(`POST /alerts/alertmanager → ${accepted.status}\n`);

    const parent = await waitFor('the incident thread', () => standin!.messages(CHANNEL)[0], 60_000);
    const findings = await waitFor(
      'findings with an approve button',
      () => standin!.thread(CHANNEL, parent.ts).replies.find((reply) => buttonsOf(reply).length > 0),
      120_000,
    );
    const fix = buttonsOf(findings)[0]!;
    say(`${ON_CALL} (Alice, an approver for this risk) clicks "${fix.text}"`);
    const payload = clickPayload(ON_CALL, fix, CHANNEL, { botUser: standin.botUser, triggerId: standin.issueTriggerId() });
    await postSlack({ base, signingSecret }, { payload: JSON.stringify(payload) });

    await waitFor(
      'the incident summary',
      () => standin!.thread(CHANNEL, parent.ts).replies.find((reply) => /time to recovery/i.test(`${reply.text} ${JSON.stringify(reply.blocks ?? [])}`)),
      120_000,
    );

    say(`Checking from the command line: oo diagnose ${HOST}`);
    const configFile = `${lab.root}/oo.yaml`;
    await writeFile(configFile, stringify({ hosts: lab.inventory() }));
    const code = await runCli(['diagnose', HOST, '--config', configFile]);
    say(code === 0 ? 'The host is healthy again.' : `The host is not healthy (exit code ${code}).`);
    return code;
  } finally {
    await service?.close();
    await standin?.close();
    await redis?.stop();
    await lab?.destroy();
  }
}

process.exitCode = await main().catch((error: unknown) => {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
  return 2;
});
