// Test support: a real `tegata serve` started for the tests, and a real HTTP proxy in front of it
// that can fail, delay or drop requests and counts what passes.
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer as createNetServer } from 'node:net';
import { webcrypto } from 'node:crypto';

const here = dirname(fileURLToPath(import.meta.url));
const repository = resolve(here, '../../..');

/** The tegata executable: TEGATA_BIN, else the debug build in this checkout. */
export function tegataExecutable() {
  if (process.env.TEGATA_BIN) return process.env.TEGATA_BIN;
  for (const candidate of [join(repository, '.build/debug/tegata'), join(repository, '.build/x86_64-unknown-linux-gnu/debug/tegata')]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('no tegata executable: build it (swift build) or set TEGATA_BIN');
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createNetServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

export const REALTIME_SECRET = 'js-client-tests-realtime-secret-0123456789';

/**
 * Starts `tegata serve` on a fresh SQLite database. `environment` adds or overrides TEGATA_* values.
 * @returns {Promise<{ baseURL: string, port: number, stop: () => Promise<void>, log: () => string }>}
 */
export async function startTegata(environment = {}) {
  const directory = await mkdtemp(join(tmpdir(), 'tegata-js-'));
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TEGATA_')));
  Object.assign(env, {
    TEGATA_HOST: '127.0.0.1',
    TEGATA_PORT: String(port),
    TEGATA_DATABASE_URL: `sqlite://${join(directory, 'tegata.sqlite')}`,
    TEGATA_RATE_LIMIT_ENABLED: 'false',
    TEGATA_LOG_LEVEL: 'warning',
    TEGATA_REALTIME_HMAC_SECRET: REALTIME_SECRET,
    TEGATA_REALTIME_NAMESPACES: 'chat',
    ...environment,
  });
  const child = spawn(tegataExecutable(), ['serve'], { env, cwd: directory, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
  const baseURL = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tegata exited early:\n${output}`);
    try {
      const response = await fetch(`${baseURL}/healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`tegata did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    baseURL,
    port,
    log: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * A proxy on loopback in front of `target`: forwards every request, counts them by `METHOD path`,
 * keeps the bodies of the answers, and runs the faults queued with `fault(match, action)`:
 *   { status, headers, body }  answer that instead of forwarding;
 *   { drop: true }             close the connection without an answer;
 *   { delay: ms }              forward after waiting;
 *   { after: ms }              forward at once, hold the answer back for ms;
 *   { dropAnswer: true }       forward, then close the connection instead of answering.
 * `match` is a `METHOD path` string (the path without the query).
 */
export async function startProxy(target) {
  const targetURL = new URL(target);
  const counts = new Map();
  const answers = [];
  const faults = [];
  const sockets = new Set();
  const server = createServer((incoming, outgoing) => {
    const key = `${incoming.method} ${incoming.url.split('?')[0]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const chunks = [];
    incoming.on('data', (chunk) => chunks.push(chunk));
    incoming.on('end', async () => {
      const body = Buffer.concat(chunks);
      const index = faults.findIndex((fault) => fault.match === key);
      const fault = index >= 0 ? faults.splice(index, 1)[0].action : null;
      if (fault?.drop) {
        incoming.socket.destroy();
        return;
      }
      if (fault?.status) {
        outgoing.writeHead(fault.status, { 'content-type': 'application/json', ...(fault.headers ?? {}) });
        outgoing.end(fault.body ?? JSON.stringify({ error: 'server_error', error_description: 'injected by the test proxy' }));
        return;
      }
      if (fault?.delay) await new Promise((r) => setTimeout(r, fault.delay));
      const headers = { ...incoming.headers, host: targetURL.host };
      const forward = httpRequest({ host: targetURL.hostname, port: targetURL.port, method: incoming.method, path: incoming.url, headers }, (response) => {
        const parts = [];
        response.on('data', (chunk) => parts.push(chunk));
        response.on('end', async () => {
          const answer = Buffer.concat(parts);
          answers.push({ key, status: response.statusCode, body: answer.toString('utf8'), requestBody: body.toString('utf8') });
          if (fault?.after) await new Promise((r) => setTimeout(r, fault.after));
          if (fault?.dropAnswer) {
            incoming.socket.destroy(); // the server did the work; its answer is lost on the way
            return;
          }
          outgoing.writeHead(response.statusCode, response.headers);
          outgoing.end(answer);
        });
      });
      forward.on('error', () => outgoing.destroy());
      forward.end(body);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    baseURL: `http://127.0.0.1:${port}`,
    count: (key) => counts.get(key) ?? 0,
    answers: (key) => answers.filter((answer) => answer.key === key),
    fault(match, action) {
      faults.push({ match, action });
    },
    resetCounts() {
      counts.clear();
      answers.length = 0;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A POST of a form to Tegata, outside the client (the tests' own view of the server). */
export async function postForm(baseURL, path, form, headers = {}) {
  const response = await fetch(new URL(path, baseURL), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** The claims of a JWT, unverified (the tests read what the server put in). */
export function claims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/**
 * An OpenID provider on loopback for the token exchange: a real P-256 key (Web Crypto), its JWKS
 * served over HTTP, and ID tokens it signs. Configure Tegata with `provider.configuration(name)`.
 */
export async function startProvider({ audience = 'tegata-js-tests' } = {}) {
  const { subtle } = webcrypto; // Node 18 has no global crypto
  const keys = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const jwk = await subtle.exportKey('jwk', keys.publicKey);
  const kid = 'test-provider-key';
  const jwks = JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid, alg: 'ES256', use: 'sig' }] });
  const server = createServer((incoming, outgoing) => {
    if (incoming.url === '/jwks.json') {
      outgoing.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' });
      outgoing.end(jwks);
    } else {
      outgoing.writeHead(404);
      outgoing.end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return {
    issuer,
    configuration: (name) => JSON.stringify({ [name]: { type: 'oidc', issuer, jwks_url: `${issuer}/jwks.json`, audiences: [audience], algorithms: ['ES256'] } }),
    /** An ID token for `subject`, valid for `lifetime` seconds (negative: already expired). */
    async idToken(subject, { lifetime = 600 } = {}) {
      const now = Math.floor(Date.now() / 1000);
      const input = `${encode({ alg: 'ES256', kid, typ: 'JWT' })}.${encode({ iss: issuer, aud: audience, sub: subject, iat: now - 5, exp: now + lifetime, jti: webcrypto.randomUUID() })}`;
      const signature = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, new TextEncoder().encode(input));
      return `${input}.${Buffer.from(signature).toString('base64url')}`;
    },
    stop: () => new Promise((r) => server.close(r)),
  };
}
