// Signed transactions, as ballot_tx/tx.py: Tx(body, signer, expires_ms, signature), the
// signature over encode(TxPayload(body, signer, expires_ms)) under kind "tx" with the chain id.
// The tracking code of a transaction is its hash: SHA-256(domain("tx") || canonical bytes).

import { encode } from './codec.js';
import { hashBytes } from './hash.js';
import { TX_SIG_KIND } from './constants.js';

export const SIG_KIND = TX_SIG_KIND;

/** A signed transaction object (wire class Tx) for a tagged body ({$type: 'CastBallot', ...}). */
export function signTx(keys, chainId, body, expiresMs) {
  const signer = keys.ed25519Public;
  const payload = encode('TxPayload', { $type: 'TxPayload', body, signer, expires_ms: expiresMs });
  return { $type: 'Tx', body, signer, expires_ms: expiresMs, signature: keys.sign(SIG_KIND, chainId, payload) };
}

export const txBytes = (tx) => encode('Tx', tx);

/** The tracking code of canonical transaction bytes. */
export const txHash = (raw) => hashBytes('tx', raw);

export const castBallot = (ballot) => ({ $type: 'CastBallot', election_id: ballot.election_id, ballot });
export const spoilBallot = (ballot, secrets) => ({ $type: 'SpoilBallot', election_id: ballot.election_id, ballot, secrets });
