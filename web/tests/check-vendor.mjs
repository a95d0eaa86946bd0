// CI check: web/app/vendor/preact-htm.js must be, byte for byte, the file that the pinned htm
// package ships as preact/standalone.module.js (the vendored copy is never edited by hand).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const web = fileURLToPath(new URL('..', import.meta.url));
const vendored = readFileSync(`${web}app/vendor/preact-htm.js`);
const upstream = readFileSync(`${web}node_modules/htm/preact/standalone.module.js`);
if (!vendored.equals(upstream)) {
  console.error(
    'app/vendor/preact-htm.js differs from node_modules/htm/preact/standalone.module.js ' +
      '(htm 3.1.1); copy the package file over it unchanged.',
  );
  process.exit(1);
}
console.log('app/vendor/preact-htm.js is htm 3.1.1 preact/standalone.module.js, byte for byte');
