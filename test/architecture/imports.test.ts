import { describe, expect, it } from 'vitest';
import { importCircles, importEdges, sourceFiles, type ImportEdge } from './import-graph.js';

const edges = importEdges(sourceFiles('services', 'packages'));

describe('the import graph of services/ and packages/', () => {
  it('when the files of both folders are read, then their imports are found', () => {
    // Guards the checks below against passing on a graph that lost its edges (a resolver gone wrong).
    expect(edges.length).toBeGreaterThan(300);
    expect(edges).toContainEqual({
      from: 'services/score-maker/src/resources.ts',
      to: 'services/score-maker/src/data-access/events-cache-redis.ts',
      typeOnly: false,
    });
  });

  it('when every import is followed, then no file reaches itself (no import circle)', () => {
    expect(importCircles(edges)).toEqual([]);
  });

  it('when two files import each other, then the circle is named file by file', () => {
    const circle: ImportEdge[] = [
      { from: 'a.ts', to: 'b.ts', typeOnly: false },
      { from: 'b.ts', to: 'c.ts', typeOnly: true },
      { from: 'c.ts', to: 'a.ts', typeOnly: false },
      { from: 'c.ts', to: 'd.ts', typeOnly: false },
    ];
    expect(importCircles(circle)).toEqual(['a.ts -> b.ts -> c.ts -> a.ts']);
  });

  it('when an entry point imports from data-access, then it takes types only (wiring is the composition root’s)', () => {
    const valueImports = edges
      .filter((e) => /^services\/[^/]+\/src\/entry-points\//.test(e.from))
      .filter((e) => /^services\/[^/]+\/src\/data-access\//.test(e.to))
      .filter((e) => !e.typeOnly)
      .map((e) => `${e.from} -> ${e.to}`);
    expect(valueImports).toEqual([]);
  });
});
