// A real OpenID Connect provider for the registrar tests: the certified `oidc-provider`
// package (panva), run by node. Not a mock: discovery, JWKS, the authorization code
// flow with PKCE, sessions, consent and signed ID tokens are the library's own.
//
//   node provider.mjs PORT CONFIG_JSON
//
// CONFIG_JSON: {"clients": [{client_id, client_secret?, redirect_uris}], "id_token_ttl": s}
// Sign-in uses the library's development interactions: any login name with any password;
// the login name becomes the `sub` claim. Prints "ready ISSUER" once listening.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const cfg = JSON.parse(process.argv[3] || '{}');
const issuer = `http://127.0.0.1:${port}`;

const clients = (cfg.clients || []).map((c) => ({
  client_id: c.client_id,
  ...(c.client_secret
    ? { client_secret: c.client_secret, token_endpoint_auth_method: 'client_secret_basic' }
    : { token_endpoint_auth_method: 'none' }),
  redirect_uris: c.redirect_uris,
  grant_types: ['authorization_code'],
  response_types: ['code'],
}));

// A fresh signing key per run (the library's quick-start key is the same everywhere).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['ballotchain-test-cookie-key-0123456789'] },
  ttl: { IdToken: cfg.id_token_ttl || 3600, AuthorizationCode: 60 },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id }; } };
  },
});
// 127.0.0.1 over plain HTTP is a test setting; oidc-provider allows it for loopback.
provider.proxy = false;
const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
