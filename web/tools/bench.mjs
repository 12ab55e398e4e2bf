// Browser-crypto cost under Node (same wasm libsodium as the page):
//   node web/tools/bench.mjs        (from the repository root: cd web && node tools/bench.mjs)
// Encrypts and verifies the known-answer manifest's ballot (tests/vectors/crypto) N times.
import { readFileSync } from 'node:fs';
import { decode } from '../src/codec.js';
import { fromHex } from '../src/bytes.js';
import { encryptBallot, verifyBallot } from '../src/crypto/ballot.js';
import { contestWidth } from '../src/manifest.js';
import * as g from '../src/crypto/group.js';

const v = JSON.parse(readFileSync(new URL('../../tests/vectors/crypto/vectors.json', import.meta.url)));
const m = decode('Manifest', fromHex(v.manifest.encoding));
const key = fromHex(v.ceremony.joint_key);
const b = v.ballots[0];
const cred = fromHex(b.credential);
const n = Number(process.argv[2] || 10);
const width = m.contests.reduce((a, c) => a + contestWidth(c), 0);
let t = performance.now();
let ballot;
for (let i = 0; i < n; i++) ballot = encryptBallot(m, key, cred, b.selections).ballot;
const enc = (performance.now() - t) / n;
t = performance.now();
for (let i = 0; i < n; i++) verifyBallot(m, key, cred, ballot);
const ver = (performance.now() - t) / n;
const s = g.sc(123456789n);
t = performance.now();
for (let i = 0; i < 200; i++) g.mul(s, key);
const mul = ((performance.now() - t) / 200) * 1000;
console.log(`ballot of ${width} ciphertexts: encrypt+prove ${enc.toFixed(1)} ms, verify ${ver.toFixed(1)} ms; one scalar multiplication ${mul.toFixed(0)} us`);
