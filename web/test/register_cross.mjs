// Key files made in the browser code (src/register.js), for tests/node/registrar/test_web_keys.py:
// reads a JSON list of passwords on stdin, prints [{text, ed25519_public}] on stdout.
import { readFileSync } from 'node:fs';
import { makeKeyFile } from '../src/register.js';
import { toHex } from '../src/bytes.js';

const passwords = JSON.parse(readFileSync(0, 'utf8'));
const out = passwords.map((pw) => {
  const { keys, text } = makeKeyFile(pw);
  return { text, ed25519_public: toHex(keys.ed25519Public) };
});
process.stdout.write(JSON.stringify(out));
