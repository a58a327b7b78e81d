import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SignJWT } from 'jose';
import { Type } from 'typebox';

export interface QuickstartRoutesDeps {
  /** The API's own HS256 secret: the quick start's generated one (see buildScoreMakerApi). */
  secret: string;
  /** How long a token lasts. */
  expiresIn?: string;
  /** The role claim and role of an administrator (ADMIN_ROLE_CLAIM, ADMIN_ROLE), for `admin: true`. */
  adminClaim: string;
  adminRole: string;
}

const SignInBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 40,
      pattern: '^[A-Za-z0-9_.-]+$',
      description: 'The user id to sign in as: letters, digits, `_`, `.`, `-`',
    }),
    admin: Type.Optional(Type.Boolean({ description: 'With the admin role (the operations console)' })),
  },
  { additionalProperties: false },
);

/**
 * "Sign in as <name>" for the quick start: a token for any name, signed with the API's secret. Only
 * the quick start registers these routes, and only while it runs on the secret it generated itself;
 * anywhere else they do not exist (404), and are not in the OpenAPI document.
 */
export const quickstartRoutes =
  (deps: QuickstartRoutesDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    const key = new TextEncoder().encode(deps.secret);
    app.get('/quickstart/sign-in', { schema: { hide: true } }, async () => ({ enabled: true }));
    app.post('/quickstart/sign-in', { schema: { hide: true, body: SignInBody } }, async (request) => {
      const claims = request.body.admin ? nested(deps.adminClaim, [deps.adminRole]) : {};
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(request.body.name)
        .setIssuedAt()
        .setExpirationTime(deps.expiresIn ?? '12h')
        .sign(key);
      return { token, user: request.body.name, admin: request.body.admin === true };
    });
  };

/** `{ a: { b: value } }` for the claim path `a.b`. */
function nested(path: string, value: unknown): Record<string, unknown> {
  return path
    .split('.')
    .reverse()
    .reduce<Record<string, unknown>>((inner, key) => ({ [key]: inner }), value as Record<string, unknown>);
}
