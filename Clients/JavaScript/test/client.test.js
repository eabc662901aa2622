// TegataClient against a real `tegata serve`, through a real proxy that counts requests and injects
// failures. The client's clock is moved forward (`now`) to age its tokens instead of waiting.
import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
// From the Node entry, as a Node service imports it (Web Crypto by default on Node 18 too).
import { TegataClient, MemoryStorage, RealtimeTokens, TegataClientError, WebSession } from '../src/node.js';
import { startTegata, startProxy, startProvider, postForm, claims } from './support.js';

const ADMIN_KEY = 'js-client-tests-admin-key-0123456789abcdef';
const PAGE_ORIGIN = 'http://localhost:3000';

let tegata;
let proxy;
let provider;

before(async () => {
  provider = await startProvider();
  tegata = await startTegata({
    TEGATA_ACCESS_TOKEN_TTL: '60s', TEGATA_ADMIN_API_KEY: ADMIN_KEY, TEGATA_ALLOWED_ORIGINS: PAGE_ORIGIN,
    TEGATA_PROVIDERS: provider.configuration('games'),
  });
  proxy = await startProxy(tegata.baseURL);
});

after(async () => {
  await proxy?.stop();
  await tegata?.stop();
  await provider?.stop();
});

beforeEach(() => proxy.resetCounts());

/** A client through the proxy with a clock the test moves; `storage` shared makes two "tabs". */
function makeClient({ storage = new MemoryStorage(), ...options } = {}) {
  const clock = { offset: 0 };
  const client = new TegataClient({
    baseURL: proxy.baseURL, storage, platform: 'web', retryDelays: [20, 40], now: () => Date.now() + clock.offset, ...options,
  });
  return { client, clock, storage };
}

/** The record the client stored (the default storage key is `tegata:` and the base URL). */
async function storedRecord(client, storage) {
  return JSON.parse(await storage.get(`tegata:${proxy.baseURL}`));
}

const expectCode = (code) => (error) => {
  assert.ok(error instanceof TegataClientError, `a TegataClientError, got ${error}`);
  assert.equal(error.code, code, error.message);
  return true;
};

describe('device sign-in', () => {
  test('registers an anonymous user once, then signs in as it again from the stored device', async () => {
    const { client, storage } = makeClient();
    const states = [];
    client.onStateChange((state) => states.push(state.status));
    const user = await client.signInWithDevice();
    assert.equal(user.anon, true);
    assert.equal(client.state.status, 'signedIn');
    assert.deepEqual(states, ['signedOut', 'signedIn']);
    const record = await storedRecord(client, storage);
    assert.match(record.device.id, /^[A-Za-z0-9._:-]{8,128}$/);
    assert.equal(record.device.secret.length, 64);
    assert.equal(record.device.userId, user.id);

    // Another client on the same storage (a reinstall that kept its storage, or another tab).
    const { client: again } = makeClient({ storage });
    const same = await again.signInWithDevice();
    assert.equal(same.id, user.id);
    assert.equal(proxy.count('POST /v1/auth/device'), 2);
    const me = await again.me();
    assert.equal(me.id, user.id);
  });

  test('the device credentials never appear in an error message', async () => {
    const { client, storage } = makeClient();
    await client.signInWithDevice();
    const record = await storedRecord(client, storage);
    proxy.fault('POST /v1/auth/device', { status: 400, body: JSON.stringify({ error: 'invalid_request', error_description: 'nope' }) });
    const error = await client.signInWithDevice().catch((e) => e);
    assert.equal(error.code, 'rejected');
    assert.ok(!error.message.includes(record.device.secret) && !error.message.includes(record.device.id));
    assert.equal(client.state.status, 'signedIn', 'a refused sign-in leaves the current session');
  });
});

describe('renewal', () => {
  test('an aged token is renewed once for many concurrent callers', async () => {
    const { client, clock } = makeClient();
    await client.signInWithDevice();
    const first = await client.accessToken();
    assert.ok((await client.accessToken()) === first, 'a fresh token is not renewed');
    assert.equal(proxy.count('POST /oauth/token'), 0);
    clock.offset = 50_000; // 10 s left of 60: inside the margin (half the lifetime)
    const tokens = await Promise.all(Array.from({ length: 10 }, () => client.accessToken()));
    assert.equal(new Set(tokens).size, 1);
    assert.ok(tokens[0] !== first, 'renewed');
    assert.equal(proxy.count('POST /oauth/token'), 1);
  });

  test('two tabs sharing a store across an expiry make exactly one refresh and both adopt it', async () => {
    const storage = new MemoryStorage();
    const { client: tabA, clock: clockA } = makeClient({ storage });
    await tabA.signInWithDevice();
    const { client: tabB, clock: clockB } = makeClient({ storage });
    await tabB.ready();
    assert.equal(tabB.state.status, 'signedIn');
    clockA.offset = clockB.offset = 50_000;
    const [a, b] = await Promise.all([tabA.accessToken(), tabB.accessToken()]);
    assert.ok(a === b, 'both tabs hold the one renewed token');
    assert.equal(proxy.count('POST /oauth/token'), 1);
    // Both go on with the one session: neither is logged out by the other's rotation.
    clockA.offset = clockB.offset = 0;
    assert.equal((await tabA.me()).id, (await tabB.me()).id);
  });

  test('a 503 is retried; a 429 asking for longer than allowed is reported, and neither signs out', async () => {
    const { client, clock } = makeClient();
    await client.signInWithDevice();
    clock.offset = 50_000;
    proxy.fault('POST /oauth/token', { status: 503 });
    const renewed = await client.accessToken();
    assert.equal(proxy.count('POST /oauth/token'), 2);

    clock.offset = 100_000;
    proxy.fault('POST /oauth/token', { status: 429, headers: { 'retry-after': '60' }, body: JSON.stringify({ error: 'rate_limited' }) });
    await assert.rejects(client.accessToken(), (error) => expectCode('unavailable')(error) && error.retryAfter === 60 && error.status === 429);
    assert.equal(client.state.status, 'signedIn');

    for (let i = 0; i < 3; i += 1) proxy.fault('POST /oauth/token', { drop: true });
    await assert.rejects(client.accessToken(), expectCode('unavailable'));
    assert.equal(client.state.status, 'signedIn');
    const later = await client.accessToken(); // the network is back: the same session renews
    assert.notEqual(later, renewed);
  });

  test('a refresh whose answer was lost is retried, and the grace interval answers the retry', async () => {
    const { client, clock } = makeClient();
    const user = await client.signInWithDevice();
    clock.offset = 50_000;
    proxy.fault('POST /oauth/token', { dropAnswer: true }); // rotated at the server, never heard of here
    await client.accessToken();
    assert.equal(proxy.count('POST /oauth/token'), 2);
    const [lost, retried] = proxy.answers('POST /oauth/token');
    assert.equal(lost.requestBody, retried.requestBody, 'the retry presented the same, already rotated, refresh token');
    assert.equal(retried.status, 200, 'answered within the grace interval');
    assert.equal(JSON.parse(retried.body).refresh_token, JSON.parse(lost.body).refresh_token, 'the session\'s current token');
    clock.offset = 0;
    assert.equal((await client.me()).id, user.id, 'still signed in');
  });

  test('a 401 from an API is answered by one renewal and one retry', async () => {
    const { client } = makeClient();
    await client.signInWithDevice();
    const token = await client.accessToken();
    // The token is revoked at the server (RFC 7009), its session is not.
    assert.equal((await postForm(tegata.baseURL, '/oauth/revoke', { token })).status, 200);
    const response = await client.fetch(`${proxy.baseURL}/v1/me`);
    assert.equal(response.status, 200);
    assert.equal(proxy.count('GET /v1/me'), 2);
    assert.equal(proxy.count('POST /oauth/token'), 1);
    assert.notEqual(await client.accessToken(), token);
  });

  test('fetch sends the token only to allowed origins', async () => {
    const { client } = makeClient();
    await client.signInWithDevice();
    await assert.rejects(client.fetch('https://elsewhere.example/api'), expectCode('notAllowed'));
  });
});

describe('when the session ends at the server', () => {
  test('a revoked session is replaced silently by a device sign-in as the same user', async () => {
    const { client, clock, storage } = makeClient();
    const user = await client.signInWithDevice();
    const { session } = await storedRecord(client, storage);
    assert.equal((await postForm(tegata.baseURL, '/oauth/revoke', { token: session.refreshToken })).status, 200);
    clock.offset = 50_000;
    await client.accessToken();
    assert.equal(client.currentUser.id, user.id);
    assert.equal(proxy.count('POST /oauth/token'), 1);
    assert.equal(proxy.count('POST /v1/auth/device'), 2);
  });

  test('after the account was deleted elsewhere the device is not switched to a new user', async () => {
    const { client, clock } = makeClient();
    const user = await client.signInWithDevice();
    const token = await client.accessToken();
    const deleted = await fetch(`${tegata.baseURL}/v1/me`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    assert.equal(deleted.status, 204);
    clock.offset = 50_000;
    await assert.rejects(client.accessToken(), expectCode('signInRequired'));
    assert.equal(client.state.status, 'signInRequired');
    // The device sign-in registered a new, empty user; the client refused it and ended its session.
    const answers = proxy.answers('POST /v1/auth/device');
    const last = JSON.parse(answers[answers.length - 1].body);
    assert.notEqual(last.user.id, user.id);
    const spent = await postForm(tegata.baseURL, '/oauth/token', { grant_type: 'refresh_token', refresh_token: last.refresh_token });
    assert.equal(spent.status, 400);
    // Reported once: later calls say the same without another request.
    proxy.resetCounts();
    await assert.rejects(client.accessToken(), expectCode('signInRequired'));
    assert.equal(proxy.count('POST /oauth/token') + proxy.count('POST /v1/auth/device'), 0);
  });

  test('after an operator revoked the user the dead device credentials are forgotten', async () => {
    const { client, clock, storage } = makeClient();
    const user = await client.signInWithDevice();
    const revoked = await fetch(`${tegata.baseURL}/admin/v1/users/${user.id}/revoke`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: '{}',
    });
    assert.equal(revoked.status, 204);
    clock.offset = 50_000;
    await assert.rejects(client.accessToken(), expectCode('signInRequired'));
    const record = await storedRecord(client, storage);
    assert.equal(record.device, null);
    assert.equal(record.session, null);
    // The next device sign-in starts afresh: a new anonymous user.
    const fresh = await client.signInWithDevice();
    assert.notEqual(fresh.id, user.id);
  });
});

describe('sign-out', () => {
  test('wins over a refresh whose answer comes afterwards: the late session is revoked, never stored', async () => {
    const { client, clock, storage } = makeClient();
    await client.signInWithDevice();
    const states = [];
    client.onStateChange((state) => states.push(state.status));
    clock.offset = 50_000;
    proxy.fault('POST /oauth/token', { after: 400 }); // the server rotates; its answer is held back
    const renewal = client.accessToken().then(() => null, (error) => error);
    await new Promise((r) => setTimeout(r, 100));
    await client.signOut();
    assert.equal(client.state.status, 'signedOut');
    assert.ok(expectCode('signedOut')(await renewal));
    assert.deepEqual(states, ['signedOut']);
    const [late] = proxy.answers('POST /oauth/token');
    const rotated = JSON.parse(late.body).refresh_token;
    const replay = await postForm(tegata.baseURL, '/oauth/token', { grant_type: 'refresh_token', refresh_token: rotated });
    assert.equal(replay.status, 400, 'the session the late answer opened was revoked');
    const record = await storedRecord(client, storage);
    assert.equal(record.session, null);
    assert.equal(client.pendingRevocationCount, 0);
  });

  test('a local sign-out revokes the session and keeps an anonymous user\'s device', async () => {
    const { client, storage } = makeClient();
    const user = await client.signInWithDevice();
    const { session } = await storedRecord(client, storage);
    await client.signOut();
    const spent = await postForm(tegata.baseURL, '/oauth/token', { grant_type: 'refresh_token', refresh_token: session.refreshToken });
    assert.equal(spent.status, 400);
    await assert.rejects(client.accessToken(), expectCode('signedOut'));
    assert.equal((await client.signInWithDevice()).id, user.id);
  });

  test('a revocation the server could not be told about stays pending until flushed', async () => {
    const { client, storage } = makeClient();
    await client.signInWithDevice();
    const { session } = await storedRecord(client, storage);
    proxy.fault('POST /oauth/revoke', { drop: true });
    await assert.rejects(client.signOut(), expectCode('unavailable'));
    assert.equal(client.state.status, 'signedOut');
    assert.equal(client.pendingRevocationCount, 1);
    await client.flushPendingRevocations();
    assert.equal(client.pendingRevocationCount, 0);
    const spent = await postForm(tegata.baseURL, '/oauth/token', { grant_type: 'refresh_token', refresh_token: session.refreshToken });
    assert.equal(spent.status, 400);
  });

  test('a global sign-out ends every session of the user', async () => {
    const storage = new MemoryStorage();
    const { client } = makeClient({ storage });
    await client.signInWithDevice();
    // A second session of the same user: another sign-in with the same device.
    const { client: other, storage: otherStorage } = makeClient({ storage: new MemoryStorage() });
    const copied = JSON.parse(await storage.get(`tegata:${proxy.baseURL}`));
    await otherStorage.set(`tegata:${proxy.baseURL}`, JSON.stringify({ ...copied, session: null }));
    await other.ready();
    await other.signInWithDevice();
    const otherRecord = await storedRecord(other, otherStorage);
    await client.signOut({ scope: 'global' });
    const spent = await postForm(tegata.baseURL, '/oauth/token', { grant_type: 'refresh_token', refresh_token: otherRecord.session.refreshToken });
    assert.equal(spent.status, 400);
  });
});

describe('realtime tokens', () => {
  test('are cached per account, fresh for Centrifuge when asked again, and dropped at sign-out', async () => {
    const { client: alice } = makeClient();
    const { client: bob } = makeClient();
    const aliceUser = await alice.signInWithDevice();
    const bobUser = await bob.signInWithDevice();
    const aliceTokens = new RealtimeTokens(alice);
    const bobTokens = new RealtimeTokens(bob);

    const first = await aliceTokens.connectionToken();
    assert.equal(await aliceTokens.connectionToken(), first);
    assert.equal(proxy.count('POST /v1/realtime/token'), 1);
    assert.equal(claims(first).sub, aliceUser.id);
    assert.equal(claims(await bobTokens.connectionToken()).sub, bobUser.id);

    // Centrifuge's getToken: the cached token once, then a fresh one (a second call means the first failed).
    const getToken = aliceTokens.connectionTokenGetter;
    assert.equal(await getToken(), first);
    const fresh = await getToken();
    assert.equal(claims(fresh).sub, aliceUser.id);
    assert.equal(proxy.count('POST /v1/realtime/token'), 3);

    // Past the margin (300 s of a 600 s token) the cached token is replaced.
    const { client: carol } = makeClient();
    await carol.signInWithDevice();
    const carolClock = { offset: 0 };
    const carolTokens = new RealtimeTokens(carol, { now: () => Date.now() + carolClock.offset });
    const asked = () => proxy.count('POST /v1/realtime/token');
    await carolTokens.connectionToken();
    const afterFirst = asked();
    carolClock.offset = 299_000;
    await carolTokens.connectionToken();
    assert.equal(asked(), afterFirst, 'still inside its lifetime less the margin: from the cache');
    carolClock.offset = 301_000;
    await carolTokens.connectionToken();
    assert.equal(asked(), afterFirst + 1, 'past the margin: asked again');

    const subscription = await aliceTokens.subscriptionToken('chat:lobby');
    assert.equal(claims(subscription).channel, 'chat:lobby');
    assert.equal(await aliceTokens.subscriptionToken('chat:lobby'), subscription);
    await assert.rejects(aliceTokens.subscriptionToken('secret:room'), (error) => expectCode('rejected')(error) && error.status === 403);

    await alice.signOut();
    await assert.rejects(aliceTokens.connectionToken(), expectCode('signedOut'));
    assert.equal(claims(await bobTokens.connectionToken()).sub, bobUser.id, 'the other account is untouched');
  });
});

/**
 * A fetch with a cookie jar and a page's Origin, as a browser would send them (the cookie's own
 * attributes as a browser keeps them are checked in the browser tests).
 */
function browserLikeFetch() {
  const jar = new Map();
  const fetchWithCookies = async (url, init = {}) => {
    const headers = new Headers(init.headers);
    if (init.credentials === 'include' && jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    if (init.method && init.method !== 'GET') headers.set('origin', PAGE_ORIGIN);
    const response = await fetch(url, { ...init, headers });
    // getSetCookie() is Node 19.7+; Tegata sets one cookie per answer.
    const setCookies = response.headers.getSetCookie?.() ?? [response.headers.get('set-cookie')].filter(Boolean);
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';').map((part) => part.trim());
      const [name, value] = pair.split('=');
      if (attributes.some((a) => /^max-age=0$/i.test(a)) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  };
  return { fetch: fetchWithCookies, jar };
}

describe('web session (cookie mode)', () => {
  async function openSession(options = {}) {
    const { client } = makeClient();
    await client.signInWithDevice();
    const browser = browserLikeFetch();
    const session = new WebSession({ baseURL: proxy.baseURL, fetch: browser.fetch, keepAliveInterval: 3600, ...options });
    await session.signInWithAccessToken(await client.accessToken());
    return { session, browser, client };
  }

  test('opens the cookie session, renews it with GET /v1/session and ends it with DELETE', async () => {
    const { session, browser } = await openSession();
    assert.equal(session.state.status, 'signedIn');
    assert.equal(browser.jar.size, 1, 'the session cookie is held');
    await session.check();
    assert.equal(session.state.status, 'signedIn');
    assert.equal(proxy.count('GET /v1/session'), 1);
    assert.ok(typeof session.state.expiresAt === 'string');
    await session.signOut();
    assert.equal(session.state.status, 'signedOut');
    assert.equal(browser.jar.size, 0, 'the cookie is cleared');
  });

  test('after a 401: one silent recovery, then sign-in required once, and no request after that', async () => {
    let calls = 0;
    const { session, browser } = await openSession({ provider: 'line', getIdToken: async () => { calls += 1; return 'not-an-id-token'; } });
    const states = [];
    session.onStateChange((state) => states.push(state.status));
    // The session ends elsewhere (a logout on another device): the cookie is refused.
    const dead = await browser.fetch(`${proxy.baseURL}/v1/session`, { method: 'DELETE', credentials: 'include' });
    assert.equal(dead.status, 204);
    // A cookie of an ended session, put back as a stale tab would still hold it.
    browser.jar.set('tegata_session', 'stale');
    proxy.resetCounts();
    await session.check();
    assert.equal(session.state.status, 'signInRequired');
    assert.equal(calls, 1, 'the provider callback was asked once');
    assert.equal(proxy.count('POST /oauth/token'), 1, 'one exchange of the token it gave');
    for (let i = 0; i < 5; i += 1) await session.check();
    assert.equal(proxy.count('GET /v1/session'), 1, 'nothing is asked once sign-in is required');
    assert.equal(calls, 1);
    assert.deepEqual(states, ['signInRequired'], 'reported once');
  });

  test('gives the page an access token of the cookie\'s session for its own APIs, and logs out everywhere with the cookie', async () => {
    const { session, client } = await openSession();
    const token = await session.accessToken();
    assert.equal(claims(token).sub, client.currentUser.id);
    assert.ok((await session.accessToken()) === token, 'kept in memory while fresh');
    const me = await fetch(`${proxy.baseURL}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200);
    // The bearer client's session is another session of the same user: a global logout by the
    // cookie ends it too.
    await session.signOut({ scope: 'global' });
    assert.equal(session.state.status, 'signedOut');
    const after = await fetch(`${proxy.baseURL}/v1/me`, { headers: { authorization: `Bearer ${await client.accessToken().catch(() => token)}` } });
    assert.equal(after.status, 401);
    await assert.rejects(session.accessToken(), expectCode('signedOut'));
  });

  test('a transient failure of the keep-alive changes nothing', async () => {
    const { session } = await openSession();
    proxy.fault('GET /v1/session', { status: 503 });
    await session.check();
    assert.equal(session.state.status, 'signedIn');
    proxy.fault('GET /v1/session', { drop: true });
    await session.check();
    assert.equal(session.state.status, 'signedIn');
    await session.check();
    assert.equal(session.state.status, 'signedIn');
  });
});

describe('provider sign-in', () => {
  test('signs in with an ID token, and links one to an anonymous device user', async () => {
    const { client } = makeClient();
    const user = await client.signInWithIdToken({ provider: 'games', idToken: await provider.idToken('player-1') });
    assert.equal(user.anon, false);
    const { client: device } = makeClient();
    const anonymous = await device.signInWithDevice();
    assert.equal(anonymous.anon, true);
    const me = await device.linkIdentity({ provider: 'games', idToken: await provider.idToken('player-2') });
    assert.equal(me.id, anonymous.id, 'the user keeps its id');
    assert.equal(me.anon, false);
    assert.equal(device.currentUser.anon, false, 'the client knows the user is permanent now');
    // The identity is linked elsewhere: a clear refusal.
    await assert.rejects(device.linkIdentity({ provider: 'games', idToken: await provider.idToken('player-1') }),
      (error) => expectCode('rejected')(error) && error.status === 409);
  });

  test('the web session recovers silently once, and not a second time for the same sign-in', async () => {
    let calls = 0;
    const { client } = makeClient();
    await client.signInWithDevice();
    const browser = browserLikeFetch();
    const session = new WebSession({
      baseURL: proxy.baseURL, fetch: browser.fetch, keepAliveInterval: 3600, provider: 'games',
      getIdToken: async () => { calls += 1; return provider.idToken('web-player'); },
    });
    await session.signInWithAccessToken(await client.accessToken());
    const end = async () => {
      const cookie = [...browser.jar][0];
      assert.equal((await browser.fetch(`${proxy.baseURL}/v1/session`, { method: 'DELETE', credentials: 'include' })).status, 204);
      browser.jar.set(cookie[0], cookie[1]); // a tab that still holds the old cookie
    };
    await end();
    await session.check();
    assert.equal(session.state.status, 'signedIn', 'recovered with a fresh ID token');
    assert.equal(calls, 1);
    await end();
    await session.check();
    assert.equal(session.state.status, 'signInRequired', 'no second silent recovery');
    assert.equal(calls, 1);
    // An explicit sign-in by the app allows one recovery again.
    await session.signIn({ provider: 'games', idToken: await provider.idToken('web-player') });
    assert.equal(session.state.status, 'signedIn');
    await end();
    await session.check();
    assert.equal(session.state.status, 'signedIn');
    assert.equal(calls, 2);
  });
});
