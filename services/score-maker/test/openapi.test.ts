import { readFile } from 'node:fs/promises';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemTypes, type ProblemCode } from '../src/entry-points/http/problem-types.js';
import { startApi, type ApiHarness } from './api-harness.js';

interface Response {
  description: string;
  headers?: Record<string, { required?: boolean; schema: object }>;
  content?: Record<string, { schema: { $ref?: string } }>;
}
interface Operation {
  operationId: string;
  security?: unknown[];
  responses: Record<string, Response>;
  'x-problem-codes'?: ProblemCode[];
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }> }> };
}

let h: ApiHarness;
let served: Document;
beforeAll(async () => {
  h = await startApi();
  const res = await h.api.http.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  served = res.json();
});
afterAll(async () => {
  await h.dispose();
});

/** Redocly's recommended rules as errors, plus RFC 9457 content for every 4xx. */
async function lint(document: Document) {
  const config = await createConfig({
    extends: ['recommended-strict'],
    // The project declares no licence, and a spec cannot invent one.
    rules: { 'info-license': 'off', 'operation-4xx-problem-details-rfc7807': 'error' },
  });
  const problems = await lintFromString({
    source: JSON.stringify(document),
    absoluteRef: '/openapi.json',
    config,
  });
  return problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? '?'}`);
}

const operations = () =>
  Object.entries(served.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({
      name: `${method.toUpperCase()} ${path}`,
      operation,
    })),
  );

describe('the served OpenAPI document', () => {
  it('when linted with the recommended rules (all as errors), then it has no problem at all', async () => {
    expect(await lint(served)).toEqual([]);
  });

  it('when one error response is declared as plain JSON, then the lint catches it (the lint is not vacuous)', async () => {
    const broken = structuredClone(served);
    const notFound = broken.paths['/events/{event_id}']!.get!.responses['404']!;
    notFound.content = { 'application/json': notFound.content!['application/problem+json']! };
    expect(await lint(broken)).toEqual([expect.stringContaining('operation-4xx-problem-details-rfc7807')]);
  });

  it('when compared with the committed services/score-maker/openapi.json, then they are the same', async () => {
    const committed = JSON.parse(await readFile(new URL('../openapi.json', import.meta.url), 'utf8'));
    expect(served, 'run `npm run generate:openapi` and commit the result').toEqual(committed);
  });

  it('when any operation can fail, then every 4xx and 5xx is problem+json with the one Problem schema and names its codes', () => {
    expect(operations().length).toBeGreaterThanOrEqual(7);
    for (const { name, operation } of operations()) {
      const codes = operation['x-problem-codes'];
      expect(codes, name).toBeDefined();
      const errorStatuses = Object.keys(operation.responses).filter((s) => Number(s) >= 400);
      // Each listed code has its status declared, and each declared status has a listed code.
      expect(new Set(codes!.map((c) => String(problemTypes[c].status))), name).toEqual(
        new Set(errorStatuses),
      );
      for (const status of errorStatuses) {
        const response = operation.responses[status]!;
        expect(Object.keys(response.content ?? {}), `${name} ${status}`).toEqual([
          'application/problem+json',
        ]);
        expect(response.content!['application/problem+json']!.schema).toEqual({
          $ref: '#/components/schemas/Problem',
        });
        for (const code of codes!.filter((c) => String(problemTypes[c].status) === status)) {
          expect(response.description, `${name} ${status}`).toContain(`/problems/${code}`);
        }
        if (status === '429' || status === '503') {
          expect(response.headers?.['Retry-After'], `${name} ${status}`).toMatchObject({ required: true });
        }
      }
      expect(codes, name).toEqual(expect.arrayContaining(['RATE_LIMITED', 'INTERNAL', 'UNAVAILABLE']));
    }
  });

  it('when the Problem schema is read, then its code lists every code of the catalogue', () => {
    const problem = served.components.schemas.Problem!;
    expect(Object.keys(problem.properties)).toEqual(
      expect.arrayContaining(['type', 'title', 'status', 'detail', 'code', 'instance', 'errors']),
    );
    expect(problem.properties.code!.enum).toEqual(Object.keys(problemTypes));
  });

  it('when POST /events/{event_id}/score is read, then its 202 has the Score schema and a required Location header', () => {
    const accepted = served.paths['/events/{event_id}/score']!.post!.responses['202']!;
    expect(accepted.description).not.toBe('Default Response');
    expect(accepted.content).toEqual({
      'application/json': { schema: { $ref: '#/components/schemas/Score' } },
    });
    expect(accepted.headers?.Location).toMatchObject({ required: true, schema: { type: 'string' } });
  });

  it('when the operations are read, then each has an operationId, a described success and its own security', () => {
    const ids = operations().map(({ operation }) => operation.operationId);
    expect(ids).toEqual(
      expect.arrayContaining(['listEvents', 'getEvent', 'submitScore', 'getScore', 'listMyScores']),
    );
    for (const { name, operation } of operations()) {
      expect(operation.security, name).toBeDefined();
      const success = Object.entries(operation.responses).filter(([s]) => Number(s) < 300);
      for (const [, response] of success) expect(response.description, name).not.toBe('Default Response');
    }
    expect(served.paths['/events']!.get!.security).toEqual([]);
    expect(served.paths['/me/scores']!.get!.security).toEqual([{ bearerAuth: [] }]);
  });

  it('when /docs is opened, then Swagger UI is served and points at the same document', async () => {
    const ui = await h.api.http.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');
    const initializer = await h.api.http.inject({ method: 'GET', url: '/docs/json' });
    expect(initializer.json()).toEqual(served);
  });
});
