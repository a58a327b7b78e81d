import { readFileSync } from 'node:fs';
import { CRASH_POINT_NAMES } from '@scoreline/platform';
import { describe, expect, it } from 'vitest';

const testing = readFileSync(new URL('../../docs/testing.md', import.meta.url), 'utf8');

describe('the crash points reference', () => {
  it('when docs/testing.md lists the crash points, then it lists exactly those the code defines', () => {
    const section = /^## Crash points\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(testing)?.[1];
    expect(section, 'docs/testing.md needs a "## Crash points" section').toBeDefined();
    const listed = [...section!.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...CRASH_POINT_NAMES].sort());
    expect(section).toContain('SCORELINE_CRASH_AT');
  });
});
