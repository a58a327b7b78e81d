// `npm run reset`: deletes the quick start's data folder (its embedded database and generated secrets),
// found as npm start finds it: SCORELINE_DATA_DIR from the environment, else from .env, else .data.
import { existsSync, rmSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { readFileSync } from 'node:fs';

let fromFile = {};
try {
  fromFile = parseEnv(readFileSync('.env', 'utf8'));
} catch {
  // no .env: defaults apply
}
const dir = process.env.SCORELINE_DATA_DIR || fromFile.SCORELINE_DATA_DIR || '.data';
if (!existsSync(dir)) {
  console.log(`nothing to reset: ${dir}/ does not exist`);
} else {
  rmSync(dir, { recursive: true, force: true });
  console.log(`removed ${dir}/ (embedded database and generated secrets); the next npm start begins afresh`);
}
