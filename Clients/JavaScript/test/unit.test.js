// The client's pure parts and its storage, without a server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, stat, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenExpiry, localExpiry, needsRenewal, retryAfterSeconds, withLock, MemoryStorage, TegataClientError } from '../src/index.js';
import { FileStorage } from '../src/node.js';

const jwt = (payload) => `e30.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.c2ln`;

test('tokenExpiry reads exp and refuses what is not a JWT', () => {
  assert.equal(tokenExpiry(jwt({ exp: 1700000000 })), 1700000000 * 1000);
  for (const bad of ['', 'a.b', 'a.b.c.d', jwt({ exp: '1' }), jwt({}), 'e30.!!!.c2ln', `e30.${'A'.repeat(9000)}.c2ln`]) {
    assert.equal(tokenExpiry(bad), null, bad.slice(0, 20));
  }
});

test('localExpiry takes the earlier of the lifetime and exp moved by the skew', () => {
  const receivedAt = 1_000_000;
  const token = jwt({ exp: 2_000 }); // 2,000,000 ms on the server's clock
  // No Date header: the lifetime alone.
  assert.equal(localExpiry(token, 900, receivedAt, null), receivedAt + 900_000);
  // The server's clock is 500 s ahead of ours: exp lands 500 s earlier on our clock.
  assert.equal(localExpiry(token, 10_000, receivedAt, receivedAt + 500_000), 2_000_000 - 500_000);
  // The lifetime is earlier: it wins.
  assert.equal(localExpiry(token, 10, receivedAt, receivedAt), receivedAt + 10_000);
  assert.equal(localExpiry(token, -5, receivedAt, null), receivedAt);
});

test('needsRenewal uses the margin, at most half the lifetime', () => {
  const session = { receivedAt: 0, accessExpiresAt: 900_000 };
  assert.equal(needsRenewal(session, 839_999, 60), false);
  assert.equal(needsRenewal(session, 840_000, 60), true);
  const short = { receivedAt: 0, accessExpiresAt: 30_000 }; // 30 s token, 60 s margin → 15 s
  assert.equal(needsRenewal(short, 14_999, 60), false);
  assert.equal(needsRenewal(short, 15_000, 60), true);
});

test('retryAfterSeconds reads seconds and HTTP dates', () => {
  assert.equal(retryAfterSeconds('3', 0), 3);
  assert.equal(retryAfterSeconds(' 120 ', 0), 120);
  const now = Date.parse('2026-12-04T10:00:00Z');
  assert.equal(retryAfterSeconds('Fri, 04 Dec 2026 10:00:30 GMT', now), 30);
  assert.equal(retryAfterSeconds('Fri, 04 Dec 2026 09:00:00 GMT', now), 0);
  for (const bad of [null, undefined, '', 'soon', '-1']) assert.equal(retryAfterSeconds(bad, now), null);
});

test('withLock runs one holder at a time, in order, and survives a failing holder', async () => {
  const events = [];
  let inside = 0;
  const holder = (name, fail) => withLock('unit-lock', async () => {
    inside += 1;
    assert.equal(inside, 1, 'two holders at once');
    events.push(`start ${name}`);
    await new Promise((r) => setTimeout(r, 5));
    events.push(`end ${name}`);
    inside -= 1;
    if (fail) throw new Error(name);
    return name;
  }, { locks: null });
  const results = await Promise.allSettled([holder('a'), holder('b', true), holder('c')]);
  assert.deepEqual(events, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
});

test('MemoryStorage keeps strings per key', async () => {
  const storage = new MemoryStorage();
  assert.equal(await storage.get('k'), null);
  await storage.set('k', 'v');
  assert.equal(await storage.get('k'), 'v');
  await storage.remove('k');
  assert.equal(await storage.get('k'), null);
});

test('FileStorage writes owner-only files, atomically, under an owner-only directory', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tegata-file-storage-'));
  try {
    const directory = join(root, 'credentials');
    const storage = new FileStorage(directory);
    assert.equal(await storage.get('tegata:http://127.0.0.1:1'), null);
    await storage.set('tegata:http://127.0.0.1:1', '{"v":1}');
    await storage.set('tegata:http://127.0.0.1:1', '{"v":2}');
    assert.equal(await storage.get('tegata:http://127.0.0.1:1'), '{"v":2}');
    const files = await readdir(directory);
    assert.equal(files.length, 1, `no temporary file is left behind: ${files}`);
    assert.match(files[0], /^[A-Za-z0-9._%-]+\.json$/, 'the key is escaped into a plain file name');
    assert.equal((await stat(join(directory, files[0]))).mode & 0o777, 0o600);
    assert.equal((await stat(directory)).mode & 0o777, 0o700);
    assert.equal(await readFile(join(directory, files[0]), 'utf8'), '{"v":2}');
    await storage.remove('tegata:http://127.0.0.1:1');
    assert.equal(await storage.get('tegata:http://127.0.0.1:1'), null);
    await storage.remove('tegata:http://127.0.0.1:1'); // removing twice is fine
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('TegataClientError tells dead device credentials apart', () => {
  const dead = new TegataClientError('rejected', 'x', { status: 401, serverError: { error: 'invalid_grant' } });
  assert.equal(dead.meansDeadDeviceCredentials, true);
  assert.equal(new TegataClientError('rejected', 'x', { status: 400, serverError: { error: 'invalid_grant' } }).meansDeadDeviceCredentials, false);
  assert.equal(new TegataClientError('unavailable', 'x', { status: 503 }).meansDeadDeviceCredentials, false);
});

test('index.d.ts and node.d.ts declare every export, and every public member of the classes', async () => {
  const { readFile: read } = await import('node:fs/promises');
  const declared = (text) => new Set([...text.matchAll(/^export (?:class|function|interface|type) (\w+)/gm)].map((m) => m[1]));
  const index = await read(new URL('../index.d.ts', import.meta.url), 'utf8');
  const node = await read(new URL('../node.d.ts', import.meta.url), 'utf8');
  const api = await import('../src/index.js');
  const nodeAPI = await import('../src/node.js');
  for (const name of Object.keys(api)) assert.ok(declared(index).has(name), `index.d.ts lacks ${name}`);
  for (const name of Object.keys(nodeAPI)) assert.ok(declared(index).has(name) || declared(node).has(name), `node.d.ts lacks ${name}`);
  // Each class's own public methods and accessors against its declaration block.
  for (const [name, text] of [['TegataClient', index], ['RealtimeTokens', index], ['WebSession', index], ['TegataClientError', index], ['MemoryStorage', index], ['FileStorage', node]]) {
    const block = text.slice(text.search(new RegExp(`^export class ${name}\\b`, "m"))).split('\n}\n')[0];
    const members = new Set([...block.matchAll(/^\s+(?:readonly )?(\w+)[(<:?]/gm)].map((m) => m[1]));
    const implementation = (api[name] ?? nodeAPI[name]).prototype;
    for (const member of Object.getOwnPropertyNames(implementation)) {
      if (member === 'constructor') continue;
      assert.ok(members.has(member), `${name}.${member} is not declared`);
    }
  }
});

test('LocalStorageStorage goes through the Web Storage interface it is given', async () => {
  const items = new Map();
  const webStorage = {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
  const { LocalStorageStorage } = await import('../src/index.js');
  const storage = new LocalStorageStorage(webStorage);
  assert.equal(await storage.get('k'), null);
  await storage.set('k', '{"v":1}');
  assert.equal(items.get('k'), '{"v":1}');
  assert.equal(await storage.get('k'), '{"v":1}');
  await storage.remove('k');
  assert.equal(items.has('k'), false);
  assert.throws(() => new LocalStorageStorage(undefined), /no localStorage/);
});

test('verifier.d.ts declares every export of the verifier and the members of TegataVerifier', async () => {
  const { readFile: read } = await import('node:fs/promises');
  const text = await read(new URL('../verifier.d.ts', import.meta.url), 'utf8');
  const declared = new Set([...text.matchAll(/^export (?:class|function|interface|type) (\w+)/gm)].map((m) => m[1]));
  const verifier = await import('../src/verifier.js');
  for (const name of Object.keys(verifier)) assert.ok(declared.has(name), `verifier.d.ts lacks ${name}`);
  const block = text.slice(text.search(/^export class TegataVerifier\b/m)).split('\n}\n')[0];
  const members = new Set([...block.matchAll(/^\s+(?:readonly )?(\w+)[(<:?]/gm)].map((m) => m[1]));
  for (const member of Object.getOwnPropertyNames(verifier.TegataVerifier.prototype)) {
    if (member !== 'constructor') assert.ok(members.has(member), `TegataVerifier.${member} is not declared`);
  }
});
