// @ts-check
// The root: sign-in screen or the signed-in shell.

import { html, useEffect, useReducer } from '../../vendor/preact-htm.js';
import { state, subscribe } from '../store.js';
import { SignIn } from './signin.js';
import { Shell } from './shell.js';

export function App() {
  const [, force] = useReducer((/** @type {number} */ x) => x + 1, 0);
  useEffect(() => subscribe(() => force(0)), []);
  return state.signedIn ? html`<${Shell} />` : html`<${SignIn} />`;
}
