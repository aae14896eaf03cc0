import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { EXPLAIN_SHORTCUT_ID, SLASH_COMMAND } from '../../../src/slack/bolt.js';
import { botScopes } from '../../../src/slack/scopes.js';

const deploy = path.join(import.meta.dirname, '../../../deploy');
interface Manifest {
  features: { slash_commands: { command: string; url?: string }[]; shortcuts: { callback_id: string; type: string }[] };
  oauth_config: { scopes: { bot: string[] } };
  settings: { socket_mode_enabled: boolean; interactivity: { is_enabled: boolean; request_url?: string } };
}
const read = (file: string) => parse(readFileSync(path.join(deploy, file), 'utf8')) as Manifest;

describe('Slack app manifests', () => {
  it.each([
    ['slack-app-manifest.yaml', true],
    ['slack-app-manifest.http.yaml', false],
  ])('%s asks for exactly the scopes the bot uses', (file, socketMode) => {
    const manifest = read(file);
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual(botScopes());
    expect(manifest.features.slash_commands.map((command) => command.command)).toEqual([SLASH_COMMAND]);
    expect(manifest.features.shortcuts).toEqual([expect.objectContaining({ type: 'message', callback_id: EXPLAIN_SHORTCUT_ID })]);
    expect(manifest.settings.socket_mode_enabled).toBe(socketMode);
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    if (!socketMode) {
      expect(manifest.settings.interactivity.request_url).toMatch(/\/slack\/events$/);
      expect(manifest.features.slash_commands[0]!.url).toMatch(/\/slack\/events$/);
    }
  });
});
