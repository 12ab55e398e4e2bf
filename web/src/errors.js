// Errors with the stable codes of ballot_tx/errors.py. The browser shows the
// code beside a sentence in the voter's language (see i18n.js), and the
// cross-tests compare codes with the Python implementation one for one.

export class BallotchainError extends Error {
  constructor(code, message) {
    super(`[${code}] ${message}`);
    this.name = 'BallotchainError';
    this.code = code;
    this.detail = message;
  }
}

export class CodecError extends BallotchainError {}
export class KeyFileError extends BallotchainError {}
export class CryptoError extends BallotchainError {}
export class ManifestError extends BallotchainError {}
