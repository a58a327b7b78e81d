import { runCli } from './run-cli.js';

/**
 * `npm run cli -- <command>`: line-provider's admin CLI. Settings come from the environment (read by
 * loadConfig) and `.env`; see `npm run cli -- help`.
 */
process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
