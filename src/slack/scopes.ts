// Every Slack Web API method the bot calls, with the bot scopes it needs: the manifests in deploy/ ask
// for exactly these scopes (plus `commands` for the slash command and the shortcut), and the tests
// check both that the manifests match and that the bot calls nothing outside this list. A method that
// reads a conversation needs the scope of each kind of conversation the bot works in: public channels
// (channels:*) and private ones (groups:*).
export const BOT_METHOD_SCOPES: Readonly<Record<string, string | readonly string[] | null>> = {
  'auth.test': null,
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  'files.getUploadURLExternal': 'files:write',
  'files.completeUploadExternal': 'files:write',
  'usergroups.users.list': 'usergroups:read',
  // The outbox's check whether a post whose answer was lost did land, before it posts again.
  'conversations.history': ['channels:history', 'groups:history'],
  'conversations.replies': ['channels:history', 'groups:history'],
};

/** The bot scopes the app needs, sorted. */
export function botScopes(): string[] {
  const scopes = new Set<string>(['commands']);
  for (const scope of Object.values(BOT_METHOD_SCOPES)) for (const one of scope === null ? [] : typeof scope === 'string' ? [scope] : scope) scopes.add(one);
  return [...scopes].sort();
}
