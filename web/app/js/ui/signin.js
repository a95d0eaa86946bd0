// @ts-check
// Sign-in screen: log in or create an account.

import { html, useEffect, useState } from '../../vendor/preact-htm.js';
import { state } from '../store.js';
import { login, register } from '../actions.js';
import { inputValue } from '../util.js';
import { useAction } from './dialog.js';

/** The invite code of an invite link (`/#/invite/CODE`), if the page was opened from one. */
function inviteFromLink() {
  const m = /^#\/invite\/([A-Za-z0-9_-]+)$/.exec(location.hash);
  return m ? m[1] : '';
}

export function SignIn() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [invite, setInvite] = useState(inviteFromLink);
  const [linked, setLinked] = useState(inviteFromLink);
  // An invite link opened in a tab that already shows this screen.
  useEffect(() => {
    const onHash = () => {
      const code = inviteFromLink();
      setLinked(code);
      if (code) setInvite(code);
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const invited = linked !== '' && invite === linked;
  const { error, busy, run } = useAction();

  /** @param {Event} e */
  const onSubmit = (e) => { e.preventDefault(); run(() => login(username.trim(), password)); };
  const onRegister = () => run(() => register(username.trim(), password, displayName, invite.trim()));

  return html`
    <main class="signin">
      <form class="signin-card" onSubmit=${onSubmit}>
        <h1 class="brand">natter</h1>
        <p class="muted">${invited ? 'You were invited: create your account.' : 'Sign in to chat, or create an account.'}</p>
        ${state.notice && html`<p class="notice" role="status">${state.notice}</p>`}
        <label class="field">
          <span>Username</span>
          <input name="username" autocomplete="username" autocapitalize="none" spellcheck=${false} required
            value=${username} onInput=${(/** @type {Event} */ e) => setUsername(inputValue(e))} />
        </label>
        <label class="field">
          <span>Password</span>
          <input name="password" type="password" autocomplete="current-password" required
            value=${password} onInput=${(/** @type {Event} */ e) => setPassword(inputValue(e))} />
        </label>
        <label class="field">
          <span>Display name (optional)</span>
          <input name="display_name" autocomplete="name"
            value=${displayName} onInput=${(/** @type {Event} */ e) => setDisplayName(inputValue(e))} />
        </label>
        <label class="field">
          <span>Invite code (to create an account)</span>
          <input name="invite" autocomplete="off" autocapitalize="none" spellcheck=${false}
            value=${invite} onInput=${(/** @type {Event} */ e) => setInvite(inputValue(e))} />
        </label>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <div class="row">
          <button type="submit" class="primary" disabled=${busy}>Log in</button>
          <button type="button" disabled=${busy} onClick=${onRegister}>Create account</button>
        </div>
        <p class="muted small">Usernames are 3–32 characters: a–z, 0–9, “_”, “.” and “-”. Passwords need 8 characters or more. The display name is used when you create an account. Unless the server lets anyone in, creating an account needs an invite code from someone on it (an invite link fills it in).</p>
      </form>
    </main>`;
}
