// Every Slack Web API method the bot calls, with the bot scope it needs: the manifests in deploy/ ask
// for exactly these scopes (plus `commands` for the slash command and the shortcut), and the tests
// check both that the manifests match and that the bot calls nothing outside this list.
export const BOT_METHOD_SCOPES: Readonly<Record<string, string | null>> = {
  'auth.test': null,
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  'files.getUploadURLExternal': 'files:write',
  'files.completeUploadExternal': 'files:write',
  'usergroups.users.list': 'usergroups:read',
};

/** The bot scopes the app needs, sorted. */
export function botScopes(): string[] {
  const scopes = new Set<string>(['commands']);
  for (const scope of Object.values(BOT_METHOD_SCOPES)) if (scope) scopes.add(scope);
  return [...scopes].sort();
}
