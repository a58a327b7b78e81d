import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MemoryFS, type PGlite, type postgresMod } from '@electric-sql/pglite';

/** What is used here of Emscripten's file system API. */
interface EmscriptenFS {
  mkdirTree(path: string): void;
  mount(type: unknown, options: { root: string }, mountpoint: string): void;
}

/** Where PGlite's PostgreSQL keeps its data inside its virtual file system. */
const PGDATA = '/pglite/data';

/**
 * A folder on disk as PGlite's data directory, like PGlite's own `NodeFS`, with one difference that
 * matters on the first start: PGlite lets initdb write straight into a data directory only when it
 * is a `MemoryFS`. For any other file system it runs initdb in memory, packs the result into a tar
 * archive in JavaScript and unpacks it onto the disk, which measured here as most of the first
 * start's time and a few hundred MB of its peak memory. Being a `MemoryFS` whose data directory is
 * mounted on the disk, this one gets initdb's files written to the folder directly.
 */
class DiskFS extends MemoryFS {
  constructor(private readonly folder: string) {
    super(folder);
  }

  override async init(pg: PGlite, options: Partial<postgresMod.PostgresMod>) {
    this.pg = pg;
    const mount = (mod: postgresMod.PostgresMod) => {
      // PGlite types its Emscripten FS through a package of its own that is not installed here.
      const fs = mod.FS as unknown as EmscriptenFS;
      fs.mkdirTree(PGDATA);
      fs.mount(mod.NODEFS, { root: this.folder }, PGDATA);
    };
    return { emscriptenOpts: { ...options, preRun: [...(options.preRun ?? []), mount] } };
  }
}

/**
 * The file system for a data folder, and what to call once PGlite has opened it. A folder without a
 * database gets one: initdb needs it empty, and a marker beside it (not in it: initdb refuses a folder
 * that is not empty) records that creating it has begun, so that a start interrupted half-way through
 * initdb is started over instead of resuming on half a database.
 */
export function prepareDataFolder(dataDir: string): { fs: MemoryFS; opened: () => void } {
  const folder = resolve(dataDir);
  if (existsSync(join(folder, 'PG_VERSION'))) return { fs: new DiskFS(folder), opened: () => {} };
  const marker = `${folder}.initdb-incomplete`;
  if (existsSync(marker)) rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  if (readdirSync(folder).length > 0) {
    throw new Error(`${folder} holds files but no PostgreSQL database: give an empty or new folder`);
  }
  writeFileSync(marker, 'initdb began here; the folder beside this file is incomplete until it is gone\n');
  return { fs: new DiskFS(folder), opened: () => rmSync(marker, { force: true }) };
}
