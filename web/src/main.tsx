import { render } from 'preact';
import { useCallback, useState } from 'preact/hooks';
import { ConsolePage } from './console-page';
import { EventsPage } from './events-page';
import { loadSession, saveSession, type Session } from './session';
import { SignIn } from './sign-in';
import './styles.css';

const onConsole = location.pathname === '/console';

function App() {
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [message, setMessage] = useState<string | undefined>();
  const onError = useCallback((text: string) => setMessage(text), []);
  const signIn = (next: Session | undefined) => {
    saveSession(next);
    setSession(next);
    setMessage(undefined);
  };
  const signOut = useCallback(() => {
    saveSession(undefined);
    setSession(undefined);
  }, []);

  return (
    <>
      <header class="top">
        <a class="brand" href="/">
          Scoreline
        </a>
        <nav aria-label="Account">
          {onConsole ? <a href="/">Events</a> : session && <a href="/console">Operations console</a>}
          {session ? (
            <>
              <span data-testid="signed-in-as">
                Signed in as <strong>{session.user}</strong>
              </span>
              <button type="button" class="link" onClick={signOut}>
                Sign out
              </button>
            </>
          ) : null}
        </nav>
      </header>
      <main>
        <h1 class={onConsole ? '' : 'visually-hidden'}>
          {onConsole ? 'Operations console' : 'Scoreline: score events'}
        </h1>
        <div class="message" role="alert" data-testid="message">
          {message && (
            <>
              <span>{message}</span>
              <button type="button" class="link" onClick={() => setMessage(undefined)}>
                Dismiss
              </button>
            </>
          )}
        </div>
        {!session && <SignIn onSignIn={signIn} onError={onError} />}
        {onConsole ? (
          <ConsolePage session={session} onError={onError} />
        ) : (
          <EventsPage session={session} onError={onError} onSignedOut={signOut} />
        )}
      </main>
      <footer>
        <a href="/docs">API reference</a>
      </footer>
    </>
  );
}

render(<App />, document.getElementById('app')!);
