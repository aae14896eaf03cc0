import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../fixtures/real/', import.meta.url));

/** A real output saved under test/fixtures/real (sources in SOURCES.md). */
export function fixture(path: string): string {
  return readFileSync(ROOT + path, 'utf8');
}

/** The lines of a fixture that contain a marker, joined as a log tail would be. */
export function fixtureLines(path: string, marker: string): string {
  return fixture(path)
    .split('\n')
    .filter((line) => line.includes(marker))
    .join('\n');
}
