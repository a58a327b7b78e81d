import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  problemTypes,
  problemTypeUri,
  type ProblemCode,
} from '../../services/score-maker/src/entry-points/http/problem-types.js';

const apiDoc = readFileSync(fileURLToPath(new URL('../../docs/api.md', import.meta.url)), 'utf8');

describe('docs/api.md', () => {
  it('when it lists error codes, then they are exactly the API’s, each with its status', () => {
    // Table rows: | status | `CODE` | when |
    const rows = [...apiDoc.matchAll(/^\|\s*(\d{3})\s*\|\s*`([A-Z_]+)`\s*\|/gm)].map((m) => ({
      code: m[2]!,
      status: Number(m[1]),
    }));
    const api = Object.entries(problemTypes).map(([code, type]) => ({ code, status: type.status }));
    const byCode = (a: { code: string }, b: { code: string }) => a.code.localeCompare(b.code);
    expect(rows.sort(byCode)).toEqual(api.sort(byCode));
  });

  it('when it shows a problem, then its type is where the API serves that code’s page', () => {
    const example = /```json\n([\s\S]*?)```/.exec(apiDoc);
    const problem = JSON.parse(example![1]!) as { type: string; code: ProblemCode; status: number };
    expect(problem.type).toBe(problemTypeUri(problem.code));
    expect(problem.status).toBe(problemTypes[problem.code].status);
    expect(apiDoc).toContain('/problems/{code}');
  });
});
