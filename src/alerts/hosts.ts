import { isIP } from 'node:net';

/** Labels that name the machine, in the order they are trusted: Prometheus' `instance` first. */
export const DEFAULT_HOST_LABELS = ['instance', 'host', 'hostname', 'nodename'] as const;

/**
 * An inventory entry: a bare name or address, or a host with the addresses and aliases it is known by
 * (then the host's name is what matches return).
 */
export type InventoryEntry = string | { name: string; address?: string; aliases?: readonly string[] };

function canonicalIPv6(address: string): string {
  // The URL parser writes IPv6 in its one canonical form (lower case, zeros compressed).
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address;
  }
}

/**
 * What a label value says the host is: `docs-1:9100` → `docs-1`, `http://10.0.0.12:8000/healthcheck` →
 * `10.0.0.12`, `[2001:db8::1]:9100` → `2001:db8::1`, `Docs-1.Example.com.` → `docs-1.example.com`.
 */
export function hostPartOf(value: string): string {
  let text = value.trim().toLowerCase();
  if (text.includes('://')) {
    try {
      text = new URL(text).hostname;
    } catch {
      text = text.slice(text.indexOf('://') + 3);
    }
  }
  const slash = text.indexOf('/');
  if (slash >= 0) text = text.slice(0, slash);
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) return canonicalIPv6(bracketed[1] as string);
  if (isIP(text) === 6) return canonicalIPv6(text);
  const withPort = /^([^:]+):\d{1,5}$/.exec(text);
  if (withPort) text = withPort[1] as string;
  return text.replace(/\.$/, '');
}

function firstLabel(name: string): string {
  return isIP(name) ? name : (name.split('.')[0] ?? name);
}

/**
 * The inventory host an alert is about, from its labels; undefined when none matches. Only inventory
 * hosts are ever returned: an alert can point the bot at a host it already knows, never at a new one.
 * A fully qualified name matches a short inventory name (and the reverse) only when that is unambiguous.
 */
export function hostFromLabels(
  labels: Readonly<Record<string, string>>,
  labelNames: readonly string[] = DEFAULT_HOST_LABELS,
  inventory: readonly InventoryEntry[] = [],
): string | undefined {
  const exact = new Map<string, string>();
  // Short inventory keys (`docs-1`) by themselves, and qualified ones (`docs-1.example.com`) by first label.
  const shortKeys = new Map<string, Set<string>>();
  const qualifiedByFirstLabel = new Map<string, Set<string>>();
  const remember = (index: Map<string, Set<string>>, key: string, name: string) => {
    const names = index.get(key) ?? new Set<string>();
    names.add(name);
    index.set(key, names);
  };
  for (const entry of inventory) {
    const name = typeof entry === 'string' ? entry : entry.name;
    const keys = typeof entry === 'string' ? [entry] : [entry.name, entry.address ?? '', ...(entry.aliases ?? [])];
    for (const key of keys) {
      if (!key) continue;
      const normalized = hostPartOf(key);
      if (!exact.has(normalized)) exact.set(normalized, name);
      if (isIP(normalized)) continue;
      if (normalized.includes('.')) remember(qualifiedByFirstLabel, firstLabel(normalized), name);
      else remember(shortKeys, normalized, name);
    }
  }

  const values = labelNames
    .map((labelName) => labels[labelName])
    .filter((value): value is string => typeof value === 'string' && value.trim() !== '')
    .map(hostPartOf);

  for (const value of values) {
    const match = exact.get(value);
    if (match !== undefined) return match;
  }
  // Two qualified names never match each other by their first label: docs-1.staging is not docs-1.prod.
  for (const value of values) {
    if (isIP(value)) continue;
    const candidates = value.includes('.') ? shortKeys.get(firstLabel(value)) : qualifiedByFirstLabel.get(value);
    if (candidates && candidates.size === 1) return [...candidates][0];
  }
  return undefined;
}
