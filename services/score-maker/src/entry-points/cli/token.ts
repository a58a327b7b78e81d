import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { ConfigError, env, loadConfig } from '@scoreline/platform';

/**
 * `npm run token -- --user alice [--expires 12h]`: prints a bearer token for local use, signed with
 * the configured JWT_SECRET (HS256), `sub` = the user id. Not for production identity: use your
 * identity provider there (and JWT_JWKS_URL).
 */
export async function makeToken(
  argv: string[],
  environment?: Record<string, string | undefined>,
): Promise<string> {
  const { values } = parseArgs({
    args: argv,
    options: { user: { type: 'string', short: 'u' }, expires: { type: 'string', default: '12h' } },
    strict: true,
  });
  if (!values.user) throw new UsageError('give the user id: npm run token -- --user alice');
  if (!/^\d+[smhd]$/.test(values.expires))
    throw new UsageError('--expires takes a duration such as 30m, 12h or 7d');
  const config = loadConfig(
    { JWT_SECRET: env.secret(32) },
    environment ? { env: environment, envFile: false } : {},
  );
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(values.user)
    .setIssuedAt()
    .setExpirationTime(values.expires)
    .sign(new TextEncoder().encode(config.JWT_SECRET));
}

export class UsageError extends Error {}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  makeToken(process.argv.slice(2)).then(
    (token) => process.stdout.write(`${token}\n`),
    (error: unknown) => {
      const known = error instanceof UsageError || error instanceof ConfigError || error instanceof TypeError;
      process.stderr.write(`token: ${known ? (error as Error).message : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
