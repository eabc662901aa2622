// The JavaScript verifier against a real `tegata serve`: its keys through discovery, a rotation,
// revocations through the feed (followed, and read once as a Worker would), fail closed when the
// feed is gone, the refusals, and the Express-style middleware on a real node:http server.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { webcrypto } from 'node:crypto';
import { TegataVerifier, TegataVerifierError, tegataAuth, repeatsAMemberName } from '../src/verifier.js';
import { startTegata, startProxy, postForm } from './support.js';

const ADMIN_KEY = 'js-verifier-tests-admin-key-0123456789abcdef';
const CLIENT = { clientID: 'jsverifier', clientSecret: 'jsverifier-secret-0123456789' };
let tegata;
let proxy;
let deviceCount = 0;

before(async () => {
  tegata = await startTegata({
    TEGATA_ADMIN_API_KEY: ADMIN_KEY, TEGATA_INTROSPECTION_CLIENTS: `${CLIENT.clientID}:${CLIENT.clientSecret}`,
  });
  proxy = await startProxy(tegata.baseURL);
});
after(async () => {
  await proxy?.stop();
  await tegata?.stop();
});

async function signIn() {
  deviceCount += 1;
  const response = await fetch(`${tegata.baseURL}/v1/auth/device`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ device_id: `js-verifier-device-${deviceCount}`, device_secret: 'a'.repeat(40) + deviceCount, platform: 'web' }),
  });
  assert.equal(response.status, 201);
  return response.json();
}

const verifierOptions = (extra = {}) => ({ issuer: tegata.baseURL, subtle: webcrypto.subtle, ...extra });
const refused = (reason) => (error) => {
  assert.ok(error instanceof TegataVerifierError, `a TegataVerifierError, got ${error}`);
  assert.equal(error.reason, reason, error.message);
  return true;
};
const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const waitFor = async (condition, what, seconds = 10) => {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** A device sign-in with a DPoP proof (RFC 9449) made here with Web Crypto: the session is bound. */
async function boundSignIn() {
  deviceCount += 1;
  const { subtle } = webcrypto;
  const keys = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const { kty, crv, x, y } = await subtle.exportKey('jwk', keys.publicKey);
  const url = `${tegata.baseURL}/v1/auth/device`;
  const input = `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })}.${b64({
    jti: `proof-${deviceCount}-${Date.now()}`, htm: 'POST', htu: url, iat: Math.floor(Date.now() / 1000) })}`;
  const signature = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, new TextEncoder().encode(input));
  const response = await fetch(url, {
    method: 'POST', headers: { 'content-type': 'application/json', dpop: `${input}.${Buffer.from(signature).toString('base64url')}` },
    body: JSON.stringify({ device_id: `js-verifier-bound-${deviceCount}`, device_secret: 'b'.repeat(40) + deviceCount, platform: 'web' }),
  });
  assert.equal(response.status, 201, await response.clone().text());
  const tokens = await response.json();
  assert.equal(tokens.token_type, 'DPoP');
  return tokens;
}

describe('TegataVerifier', () => {
  test('refuses a DPoP-bound token: it is not a bearer token anywhere', async () => {
    const tokens = await boundSignIn();
    const verifier = new TegataVerifier(verifierOptions());
    await assert.rejects(verifier.verify(tokens.access_token), refused('dpopBound'));
    // The same server's unbound tokens still verify.
    const plain = await signIn();
    assert.equal((await verifier.verify(plain.access_token)).sub, plain.user.id);
  });

  test('verifies a real access token with the keys found through discovery', async () => {
    const tokens = await signIn();
    const verifier = new TegataVerifier(verifierOptions());
    const claims = await verifier.verify(tokens.access_token);
    assert.equal(claims.sub, tokens.user.id);
    assert.equal(claims.iss, tegata.baseURL);
    assert.deepEqual(claims.amr, ['device']);
    assert.equal(claims.anon, true);
  });

  test('refuses what is not a good token, each for its reason', async () => {
    const { access_token: token } = await signIn();
    const [header, payload, signature] = token.split('.');
    const kid = JSON.parse(Buffer.from(header, 'base64url')).kid;
    const verifier = new TegataVerifier(verifierOptions({ keySet: { unknownKeyRefetchInterval: 3600 } }));
    await verifier.verify(token);
    const flipped = signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
    await assert.rejects(verifier.verify(`${header}.${payload}.${flipped}`), refused('badSignature'));
    const forged = b64({ ...JSON.parse(Buffer.from(payload, 'base64url')), sub: 'someone-else' });
    await assert.rejects(verifier.verify(`${header}.${forged}.${signature}`), refused('badSignature'));
    await assert.rejects(verifier.verify(`${b64({ alg: 'HS256', kid, typ: 'at+jwt' })}.${payload}.${signature}`), refused('unsupportedAlgorithm'));
    await assert.rejects(verifier.verify(`${b64({ alg: 'none', typ: 'at+jwt' })}.${payload}.`), refused('malformed'));
    await assert.rejects(verifier.verify(`${b64({ alg: 'ES256', kid, typ: 'JWT' })}.${payload}.${signature}`), refused('wrongType'));
    await assert.rejects(verifier.verify(`${b64({ alg: 'ES256', kid, typ: 'at+jwt', crit: ['x'] })}.${payload}.${signature}`), refused('malformed'));
    await assert.rejects(verifier.verify(`${b64({ alg: 'ES256', kid: 'made-up', typ: 'at+jwt' })}.${payload}.${signature}`), refused('unknownKey'));
    await assert.rejects(verifier.verify(`${b64('{"alg":"ES256","alg":"ES256","kid":"' + kid + '","typ":"at+jwt"}')}.${payload}.${signature}`), refused('malformed'));
    for (const garbage of ['', 'a.b', 'a.b.c.d', '....', '!!.!!.!!', 'A'.repeat(9000) + '.a.b']) {
      await assert.rejects(verifier.verify(garbage), refused('malformed'), garbage.slice(0, 10));
    }
    await assert.rejects(new TegataVerifier(verifierOptions({ audience: 'another-api' })).verify(token), refused('wrongAudience'));
    await assert.rejects(new TegataVerifier(verifierOptions({ now: () => Date.now() + 2 * 3_600_000 })).verify(token), refused('expired'));
    await assert.rejects(new TegataVerifier(verifierOptions({ now: () => Date.now() - 3_600_000 })).verify(token), refused('notYetValid'));
  });

  test('finds a key published by a rotation, refetching once for the unknown kid', async () => {
    const requests = [];
    const counting = (url, init) => { requests.push(new URL(url).pathname); return fetch(url, init); };
    const verifier = new TegataVerifier(verifierOptions({ fetch: counting, keySet: { minimumLifetime: 3600 } }));
    await verifier.verify((await signIn()).access_token);
    const rotated = await fetch(`${tegata.baseURL}/admin/v1/keys/rotate`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: '{"immediate": true}',
    });
    assert.equal(rotated.status, 200, await rotated.text());
    const fresh = await signIn();
    const before = requests.filter((path) => path.endsWith('jwks.json')).length;
    assert.equal((await verifier.verify(fresh.access_token)).sub, fresh.user.id);
    assert.equal(requests.filter((path) => path.endsWith('jwks.json')).length, before + 1, 'one refetch for the new kid');
    // A made-up kid right after does not make it fetch again (once per interval).
    const [, payload, signature] = fresh.access_token.split('.');
    await assert.rejects(verifier.verify(`${b64({ alg: 'ES256', kid: 'made-up', typ: 'at+jwt' })}.${payload}.${signature}`), refused('unknownKey'));
    assert.equal(requests.filter((path) => path.endsWith('jwks.json')).length, before + 1);
  });

  test('follows the revocation feed: a logout refuses the session\'s tokens within seconds', async () => {
    const verifier = new TegataVerifier(verifierOptions({ revocations: { ...CLIENT, wait: 2, maximumStaleness: 30 } }));
    const tokens = await signIn();
    await assert.rejects(verifier.verify(tokens.access_token), refused('revocationStatusUnknown'), 'fail closed until the feed is read');
    await verifier.start();
    try {
      assert.ok(verifier.isRevocationListLoaded);
      assert.equal((await verifier.verify(tokens.access_token)).sub, tokens.user.id);
      const other = await signIn();
      const loggedOut = await fetch(`${tegata.baseURL}/v1/logout`, { method: 'POST', headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(loggedOut.status, 204);
      await waitFor(() => verifier.verify(tokens.access_token).then(() => false, (error) => error.reason === 'revoked'), 'the logout in the feed');
      assert.equal((await verifier.verify(other.access_token)).sub, other.user.id, 'other sessions are untouched');
      // A revoked access token (RFC 7009).
      assert.equal((await postForm(tegata.baseURL, '/oauth/revoke', { token: other.access_token })).status, 200);
      await waitFor(() => verifier.verify(other.access_token).then(() => false, (error) => error.reason === 'revoked'), 'the token revocation');
      // A global logout: one user event, the token version moves, every older token is refused.
      const third = await signIn();
      await verifier.verify(third.access_token);
      const global = await fetch(`${tegata.baseURL}/v1/logout`, {
        method: 'POST', headers: { authorization: `Bearer ${third.access_token}`, 'content-type': 'application/json' }, body: '{"scope":"global"}',
      });
      assert.equal(global.status, 204);
      await waitFor(() => verifier.verify(third.access_token).then(() => false, (error) => error.reason === 'revoked'), 'the global logout');
    } finally {
      await verifier.stop();
    }
  });

  test('a Worker reads the feed once per cold start', async () => {
    const tokens = await signIn();
    const worker = new TegataVerifier(verifierOptions({ revocations: { ...CLIENT, wait: 0, maximumStaleness: 60 } }));
    await worker.syncRevocations();
    await worker.verify(tokens.access_token);
    await fetch(`${tegata.baseURL}/v1/logout`, { method: 'POST', headers: { authorization: `Bearer ${tokens.access_token}` } });
    const coldStart = new TegataVerifier(verifierOptions({ revocations: { ...CLIENT, wait: 0, maximumStaleness: 60 } }));
    await coldStart.syncRevocations();
    await assert.rejects(coldStart.verify(tokens.access_token), refused('revoked'));
  });

  test('fails closed once the feed has been unreachable past the bound, and open when told to', async () => {
    const tokens = await signIn();
    const through = (failureMode) => new TegataVerifier({
      issuer: tegata.baseURL, subtle: webcrypto.subtle,
      fetch: (url, init) => fetch(String(url).replace(tegata.baseURL, proxy.baseURL), init),
      revocations: { ...CLIENT, wait: 1, maximumStaleness: 2, failureMode },
    });
    const closed = through('closed');
    const open = through('open');
    await closed.start();
    await open.start();
    try {
      await closed.verify(tokens.access_token);
      for (let i = 0; i < 200; i += 1) proxy.fault('GET /v1/revocations', { drop: true });
      await new Promise((r) => setTimeout(r, 3500));
      await assert.rejects(closed.verify(tokens.access_token), refused('revocationStatusUnknown'));
      assert.equal((await open.verify(tokens.access_token)).sub, tokens.user.id, 'fail open accepts, unchecked');
    } finally {
      await closed.stop();
      await open.stop();
      proxy.resetCounts();
    }
    assert.throws(() => new TegataVerifier({ issuer: tegata.baseURL, subtle: webcrypto.subtle, revocations: { ...CLIENT, wait: 30, maximumStaleness: 10 } }), /shorter/);
    assert.throws(() => new TegataVerifier({ issuer: 'http://auth.example.com' }), /https/);
  });

  test('repeatsAMemberName finds a repeated name at any depth and only there', () => {
    assert.equal(repeatsAMemberName('{"a":1,"a":2}'), true);
    assert.equal(repeatsAMemberName('{"a":{"b":1,"b":2}}'), true);
    assert.equal(repeatsAMemberName('{"a":[{"b":1},{"b":2}],"c":"a"}'), false);
    assert.equal(repeatsAMemberName('{"a":"\\"a\\":","b":["a","a"]}'), false);
    assert.equal(repeatsAMemberName('{"\\u0061":1,"a":2}'), true, 'names compare after unescaping');
  });
});

describe('tegataAuth middleware', () => {
  test('answers RFC 6750 errors and passes the claims on', async () => {
    const verifier = new TegataVerifier(verifierOptions());
    const guard = tegataAuth(verifier);
    const server = createServer((req, res) => guard(req, res, () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ user: req.tegata.sub }));
    }));
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${server.address().port}/api`;
    try {
      const tokens = await signIn();
      const good = await fetch(url, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(good.status, 200);
      assert.deepEqual(await good.json(), { user: tokens.user.id });
      const missing = await fetch(url);
      assert.equal(missing.status, 401);
      assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="api"');
      const bad = await fetch(url, { headers: { authorization: `Bearer ${tokens.access_token}x` } });
      assert.equal(bad.status, 401);
      assert.match(bad.headers.get('www-authenticate'), /error="invalid_token"/);
      assert.equal((await bad.json()).error, 'invalid_token');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
