// @ts-check
// Entry point: render the app and resume a stored session.

import { html, render } from '../vendor/preact-htm.js';
import { App } from './ui/app.js';
import { getSession } from './api.js';
import { startSession } from './actions.js';

if (getSession()) startSession();
const root = document.getElementById('root');
if (root) render(html`<${App} />`, root);
