import { SignJWT } from 'jose';

/**
 * `authorization` header values for users `${prefix}0` … `${prefix}${count - 1}`, as an identity
 * provider would issue them: HS256 bearer tokens valid for two hours.
 */
export async function userTokens(jwtSecret: string, count: number, prefix: string): Promise<string[]> {
  const secret = new TextEncoder().encode(jwtSecret);
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`${prefix}${i}`)
      .setExpirationTime('2h')
      .sign(secret);
    tokens.push(`Bearer ${jwt}`);
  }
  return tokens;
}
