import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { ConfigError, env, loadConfig } from '@scoreline/platform';

type Environment = Record<string, string | undefined>;

export interface SignedToken {
  token: string;
  /** Which secret signed it, for the user to compare with what the API uses. */
  secretFrom: string;
}

/**
 * `npm run token -- --user alice [--expires 12h]`: prints a bearer token for local use, signed (HS256)
 * with JWT_SECRET from the environment or `.env`, as the API reads it; when neither sets it, with the
 * secret `npm start` generated and keeps in its data folder, so that the token works against a
 * quick start with nothing set. `sub` = the user id. Not for production identity: use your identity
 * provider there (and JWT_JWKS_URL).
 */
export async function signToken(
  argv: string[],
  environment: Environment = process.env,
  envFile: string | false = '.env',
): Promise<SignedToken> {
  const { values } = parseArgs({
    args: argv,
    options: {
      user: { type: 'string', short: 'u' },
      expires: { type: 'string', default: '12h' },
      admin: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) throw new HelpRequested(USAGE);
  if (!values.user) throw new UsageError('give the user id: npm run token -- --user alice');
  if (!/^\d+[smhd]$/.test(values.expires))
    throw new UsageError('--expires takes a duration such as 30m, 12h or 7d');
  const config = loadConfig(
    {
      /** Signs the token; unset, npm run token signs with the secret npm start generated in its data folder. */
      JWT_SECRET: env.secret(32).optional(),
      /** Where npm run token finds npm start's generated secret when JWT_SECRET is not set. */
      SCORELINE_DATA_DIR: env.string('.data'),
    },
    { env: environment, envFile },
  );
  const { secret, from } = config.JWT_SECRET
    ? { secret: config.JWT_SECRET, from: jwtSecretSource(environment, envFile) }
    : quickstartSecret(config.SCORELINE_DATA_DIR);
  // The operations console's role, in the API's default claim (ADMIN_ROLE_CLAIM=roles, ADMIN_ROLE=admin).
  const token = await new SignJWT(values.admin ? { roles: ['admin'] } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(values.user)
    .setIssuedAt()
    .setExpirationTime(values.expires)
    .sign(new TextEncoder().encode(secret));
  return { token, secretFrom: from };
}

/** The token alone, with settings from `environment` only (no `.env`); for tests and scripts. */
export async function makeToken(argv: string[], environment: Environment): Promise<string> {
  return (await signToken(argv, environment, false)).token;
}

function jwtSecretSource(environment: Environment, envFile: string | false): string {
  return environment.JWT_SECRET || envFile === false
    ? 'JWT_SECRET from the environment'
    : `JWT_SECRET from ${resolve(envFile)}`;
}

/** The secret `npm start` generated for this data folder (scripts/quickstart/settings.ts writes it). */
function quickstartSecret(dataDir: string): { secret: string; from: string } {
  const file = join(resolve(dataDir), 'secrets.json');
  if (!existsSync(file)) {
    throw new ConfigError([
      `JWT_SECRET: not set, and npm start has made no secret of its own yet (${file} does not exist); set JWT_SECRET as the API has it, or run npm start once first`,
    ]);
  }
  let secret: unknown;
  try {
    secret = (JSON.parse(readFileSync(file, 'utf8')) as { jwtSecret?: unknown }).jwtSecret;
  } catch {
    // reported below
  }
  if (typeof secret !== 'string' || secret.length < 32) {
    throw new ConfigError([`JWT_SECRET: not set, and ${file} holds no usable jwtSecret`]);
  }
  return { secret, from: `npm start's generated secret from ${file} (JWT_SECRET is not set)` };
}

export class UsageError extends Error {}
class HelpRequested extends Error {}

const USAGE = `Usage: npm run token -- --user <id> [--expires 12h] [--admin]

Prints a bearer token for the user <id> (the JWT's sub), valid for --expires (30m, 12h, 7d; 12h by
default), signed (HS256) with JWT_SECRET from the environment or .env; when neither sets it, with the
secret npm start generated in its data folder (SCORELINE_DATA_DIR, .data by default). It says on
stderr which secret it used. --admin adds the admin role (claim roles: ["admin"], the API's default
ADMIN_ROLE_CLAIM and ADMIN_ROLE) for the operations console at /console.
For example: export TOKEN=$(npm run -s token -- --user alice)`;

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  signToken(process.argv.slice(2)).then(
    ({ token, secretFrom }) => {
      process.stderr.write(`token: signed with ${secretFrom}\n`);
      process.stdout.write(`${token}\n`);
    },
    (error: unknown) => {
      if (error instanceof HelpRequested) {
        process.stdout.write(`${error.message}\n`);
        return;
      }
      const known = error instanceof UsageError || error instanceof ConfigError || error instanceof TypeError;
      process.stderr.write(`token: ${known ? (error as Error).message : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
