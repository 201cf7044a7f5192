// Reading the token of a peer agent from a file, as `packetlab peer --token-file` and
// `packetlab serve --peer-token-file` take it: a file keeps the secret off command lines, which
// every user of the machine can read (ps).

import { readFileSync } from 'node:fs';
import { tokenProblem } from '../core/peer/protocol.js';
import { UsageError } from './options.js';

/**
 * The token in the first line of `file` (without the newline editors and `echo` add), checked as
 * the agent checks tokens; `flag` names where the file was given, for the one-line errors.
 */
export function readTokenFile(file: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${flag} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const token = (text.split(/\r?\n/)[0] ?? '').trim();
  const problem = tokenProblem(token);
  if (problem !== null) throw new UsageError(`${flag} ${file}: ${problem}`);
  return token;
}
