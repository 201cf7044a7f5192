// `node --import ./register.mjs dist/electron/main.js`: installs the hooks that give the main
// process the stand-in 'electron' module.

import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
