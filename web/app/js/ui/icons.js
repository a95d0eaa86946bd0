// @ts-check
// Small inline SVG icons (no emoji font needed). Decorative: callers label the control.

import { html } from '../../vendor/preact-htm.js';

/** @param {string} d path data @param {string} [cls] */
function icon(d, cls = 'icon') {
  return html`<svg class=${cls} viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false"
    fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d=${d} /></svg>`;
}

export const paperclip = () => icon('M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l8-8');
export const fileIcon = () => icon('M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8zM14 3v5h5');
export const clock = () => icon('M12 7v5l3 2M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'tick-icon');
export const check = () => icon('M5 12.5l5 5L20 7.5', 'tick-icon');
export const checks = () => icon('M1.5 12.5l5 5L17 7M10 15.5l2 2L22.5 7', 'tick-icon');
export const close = () => icon('M6 6l12 12M18 6L6 18', 'icon small-icon');
export const more = () => html`<svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false"
  fill="currentColor"><circle cx="5" cy="12" r="2" /><circle cx="12" cy="12" r="2" /><circle cx="19" cy="12" r="2" /></svg>`;
export const bell = () => icon('M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9M13.7 21a2 2 0 0 1-3.4 0');
export const bellOff = (cls = 'icon') => icon('M13.7 21a2 2 0 0 1-3.4 0M18.6 13A17.9 17.9 0 0 1 18 8M6.3 6.3A5.9 5.9 0 0 0 6 8c0 7-3 9-3 9h14M18 8a6 6 0 0 0-9.3-5M2 2l20 20', cls);
