// Writes experiments/schema.json from the spec schema (`npm run schema`); a test fails when the
// committed file is out of date.

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { specJsonSchema } from './spec.js';

/** The schema file's text. */
export function schemaText(): string {
  return `${JSON.stringify(specJsonSchema(), null, 2)}\n`;
}

const out = fileURLToPath(new URL('../../experiments/schema.json', import.meta.url));
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(out, schemaText());
  process.stdout.write(`wrote ${out}\n`);
}
