import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api';
import { sessionOf, type Session } from './session';

/**
 * Sign-in: a bearer token pasted in; and, when the API runs under the quick start with its generated
 * secret, "sign in as <name>" (the API offers it only then).
 */
export function SignIn(props: { onSignIn: (session: Session) => void; onError: (message: string) => void }) {
  const [token, setToken] = useState('');
  const [name, setName] = useState('');
  const [admin, setAdmin] = useState(false);
  const [quickstart, setQuickstart] = useState(false);

  useEffect(() => {
    api<{ enabled: boolean }>('/quickstart/sign-in').then(
      (answer) => setQuickstart(answer.enabled),
      () => setQuickstart(false),
    );
  }, []);

  const paste = async (e: Event) => {
    e.preventDefault();
    const session = sessionOf(token.trim());
    if (!session) {
      props.onError('That is not a valid, unexpired bearer token (a JWT with a "sub").');
      return;
    }
    try {
      // The API says whether it takes the token.
      await api('/me/scores?limit=1', { token: session.token });
      props.onSignIn(session);
    } catch (error) {
      props.onError(error instanceof ApiError ? error.message : String(error));
    }
  };

  const asName = async (e: Event) => {
    e.preventDefault();
    try {
      const answer = await api<{ token: string }>('/quickstart/sign-in', {
        method: 'POST',
        body: { name: name.trim(), admin },
      });
      const session = sessionOf(answer.token);
      if (session) props.onSignIn(session);
    } catch (error) {
      props.onError(error instanceof ApiError ? error.message : String(error));
    }
  };

  return (
    <section class="sign-in" aria-labelledby="sign-in-title">
      <h2 id="sign-in-title">Sign in to score</h2>
      {quickstart && (
        <form onSubmit={(e) => void asName(e)} class="row">
          <label for="sign-in-name">Name</label>
          <input
            id="sign-in-name"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            autocomplete="username"
            maxLength={40}
            pattern="[A-Za-z0-9_.\-]+"
            required
          />
          <label class="check">
            <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.currentTarget.checked)} />
            administrator
          </label>
          <button type="submit">Sign in as {name.trim() || '…'}</button>
        </form>
      )}
      <form onSubmit={(e) => void paste(e)} class="row">
        <label for="sign-in-token">Bearer token</label>
        <input
          id="sign-in-token"
          type="password"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          autocomplete="off"
          required
        />
        <button type="submit">Sign in with token</button>
      </form>
    </section>
  );
}
