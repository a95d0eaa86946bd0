// @ts-check
// Entry point: render the app and resume a stored session.

import { html, render } from '../vendor/preact-htm.js';
import { App } from './ui/app.js';
import { getSession } from './api.js';
import { startSession, openConversationById, openFromAddress } from './actions.js';
import { listenServiceWorker } from './notify.js';
import { state } from './store.js';

if (getSession()) startSession();
// A clicked notification: the service worker asks an open window to show its conversation, or
// opens a new one at `/#/c/ID`.
listenServiceWorker((id) => { if (state.signedIn) openConversationById(id); });
addEventListener('hashchange', openFromAddress);
const root = document.getElementById('root');
if (root) render(html`<${App} />`, root);
