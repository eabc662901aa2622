// TegataVerifier for JavaScript resource servers (Node 18+, Cloudflare Workers and other runtimes
// with Web Crypto and fetch): the same rules as the Swift verifier (docs/verifier.md).
// - ES256 only, with keys from the issuer's discovery document and JWKS — never from the token;
//   `typ` at+jwt, no `crit`, a known `kid` (an unknown one refetches the keys at most once per
//   interval), `iss` exactly, `aud`, `exp`/`nbf`/`iat` with a leeway, and no repeated member names;
//   a DPoP-bound token (`cnf`) is refused: this verifier takes bearer tokens only;
// - the key set cached as its Cache-Control says, bounded, the last good set kept while the issuer
//   is unreachable;
// - revocations from Tegata's feed (`GET /v1/revocations`): followed by long-polling in a
//   long-lived process (`start()`), or read once per cold start in a Worker (`syncRevocations()`);
//   past `maximumStaleness` without a successful read, tokens are refused (fail closed, the
//   default) or accepted unchecked (fail open).

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder('utf-8', { fatal: true });
const MAXIMUM_TOKEN_LENGTH = 8 * 1024;

/**
 * @typedef {'malformed' | 'unsupportedAlgorithm' | 'wrongType' | 'unknownKey' | 'badSignature' | 'wrongIssuer'
 *   | 'wrongAudience' | 'expired' | 'notYetValid' | 'issuedInFuture' | 'revoked' | 'revocationStatusUnknown'
 *   | 'keysUnavailable' | 'dpopBound'} VerificationFailure
 */

export class TegataVerifierError extends Error {
  /** @param {VerificationFailure} reason @param {string} message */
  constructor(reason, message) {
    super(message);
    this.name = 'TegataVerifierError';
    /** @type {VerificationFailure} */
    this.reason = reason;
  }
}

const fail = (reason, message) => new TegataVerifierError(reason, message);

function base64urlBytes(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  try {
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/**
 * Whether a JSON text (already valid for JSON.parse) repeats a member name in any object: JSON.parse
 * keeps the last of two `exp`s, other parsers the first, so such a token is refused (RFC 7519 §4).
 */
export function repeatsAMemberName(text) {
  const stack = [];
  let index = 0;
  while (index < text.length) {
    const c = text[index];
    if (c === '"') {
      let end = index + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      // A string directly inside an object, followed by a colon, is a member name.
      let next = end + 1;
      while (/\s/.test(text[next] ?? '')) next += 1;
      if (top instanceof Set && text[next] === ':') {
        const name = JSON.parse(text.slice(index, end + 1));
        if (top.has(name)) return true;
        top.add(name);
      }
      index = end + 1;
      continue;
    }
    if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    index += 1;
  }
  return false;
}

function parseJSONObject(bytes) {
  let text;
  try {
    text = DECODER.decode(bytes);
  } catch {
    return null;
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || repeatsAMemberName(text)) return null;
  return value;
}

/** Seconds from `Cache-Control: max-age` (less `Age`), or null. */
function maxAge(headers) {
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/i.exec(headers.get('cache-control') ?? '');
  if (!match) return null;
  const age = Number(headers.get('age') ?? 0) || 0;
  return Math.max(Number(match[1]) - age, 0);
}

/** https only, except plain http to a loopback host (local development and tests). */
function allowedURL(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  return url.protocol === 'https:' || (url.protocol === 'http:' && loopback) ? url : null;
}

export class TegataVerifier {
  #issuer;
  #base;
  #audience;
  #leeway;
  #fetch;
  #now;
  #subtle;
  #policy;
  #revocations;
  #keys = null; // { byKid: Map, fetchedAt, expiresAt }
  #keysLoading = null;
  #lastUnknownKidRefetch = -Infinity;
  #sessions = new Map();
  #users = new Map();
  #tokens = new Map();
  #cursor = null;
  #lastSync = null;
  #following = null;
  #stopped = false;
  #abort = null;

  /**
   * @param {object} options
   * @param {string} options.issuer Tegata's issuer URL, exactly as in its tokens' `iss`
   * @param {string} [options.audience] the expected `aud` (default: the issuer)
   * @param {number} [options.leeway] seconds of clock difference tolerated (default 30)
   * @param {{ minimumLifetime?: number, maximumLifetime?: number, defaultLifetime?: number, unknownKeyRefetchInterval?: number }} [options.keySet]
   * @param {{ clientID: string, clientSecret: string, wait?: number, maximumStaleness?: number, failureMode?: 'closed' | 'open' }} [options.revocations]
   * @param {typeof fetch} [options.fetch]
   * @param {() => number} [options.now] ms since 1970
   * @param {SubtleCrypto} [options.subtle]
   */
  constructor(options) {
    if (!options || typeof options.issuer !== 'string' || !allowedURL(options.issuer)) {
      throw new TypeError('TegataVerifier: issuer must be an https URL (or http on a loopback host)');
    }
    this.#issuer = options.issuer;
    this.#base = options.issuer.replace(/\/$/, '');
    this.#audience = options.audience ?? options.issuer;
    this.#leeway = options.leeway ?? 30;
    const fetchImpl = options.fetch ?? globalThis.fetch;
    this.#fetch = (...args) => fetchImpl(...args);
    this.#now = options.now ?? (() => Date.now());
    this.#subtle = options.subtle ?? globalThis.crypto?.subtle;
    if (!this.#subtle) throw new TypeError('TegataVerifier: no Web Crypto here; pass options.subtle (node:crypto webcrypto.subtle)');
    this.#policy = {
      minimumLifetime: 60, maximumLifetime: 86_400, defaultLifetime: 3_600, unknownKeyRefetchInterval: 60, ...(options.keySet ?? {}),
    };
    this.#revocations = options.revocations
      ? { wait: 25, maximumStaleness: 60, failureMode: 'closed', ...options.revocations }
      : null;
    if (this.#revocations && !['closed', 'open'].includes(this.#revocations.failureMode)) {
      throw new TypeError("TegataVerifier: revocations.failureMode is 'closed' or 'open'");
    }
    // A healthy long poll answers within `wait`: a staleness bound that is not longer would refuse
    // tokens while the feed is fine.
    if (this.#revocations && !(this.#revocations.wait < this.#revocations.maximumStaleness)) {
      throw new TypeError('TegataVerifier: revocations.wait must be shorter than revocations.maximumStaleness');
    }
  }

  // MARK: keys

  async #getJSON(url, headers = {}) {
    const response = await this.#fetch(url, { headers: { accept: 'application/json', ...headers }, redirect: 'error' });
    if (!response.ok) throw new Error(`${url.pathname} answered ${response.status}`);
    return { body: await response.json(), headers: response.headers };
  }

  async #fetchKeys() {
    const discovery = allowedURL(`${this.#base}/.well-known/openid-configuration`);
    const { body: metadata } = await this.#getJSON(discovery);
    if (metadata?.issuer !== this.#issuer) throw new Error('the discovery document names another issuer');
    const jwksURL = allowedURL(metadata.jwks_uri);
    if (!jwksURL) throw new Error('the discovery document has no usable jwks_uri');
    const { body: jwks, headers } = await this.#getJSON(jwksURL);
    const byKid = new Map();
    for (const jwk of Array.isArray(jwks?.keys) ? jwks.keys : []) {
      // An algorithm is allowed by the key that carries it, never by a token's header.
      if (jwk?.kty !== 'EC' || jwk.crv !== 'P-256' || jwk.alg !== 'ES256' || jwk.use !== 'sig' || typeof jwk.kid !== 'string') continue;
      try {
        const key = await this.#subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, ext: true },
          { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
        byKid.set(jwk.kid, key);
      } catch {
        // not a point on P-256: left out
      }
    }
    const now = this.#now();
    const lifetime = Math.min(Math.max(maxAge(headers) ?? this.#policy.defaultLifetime, this.#policy.minimumLifetime), this.#policy.maximumLifetime);
    this.#keys = { byKid, fetchedAt: now, expiresAt: now + lifetime * 1000 };
    return this.#keys;
  }

  /** The key set: cached, fetched when missing or expired; the last good set while the issuer is unreachable. */
  async #currentKeys({ force = false } = {}) {
    const now = this.#now();
    if (!force && this.#keys && now < this.#keys.expiresAt) return this.#keys;
    this.#keysLoading ??= this.#fetchKeys().finally(() => {
      this.#keysLoading = null;
    });
    try {
      return await this.#keysLoading;
    } catch (error) {
      if (this.#keys) return this.#keys;
      throw fail('keysUnavailable', `the issuer's keys could not be fetched (${error.message})`);
    }
  }

  // MARK: verification

  /**
   * Verifies `token` (the value after `Bearer `) and returns its claims. Throws a
   * TegataVerifierError whose `reason` says why it was refused.
   */
  async verify(token) {
    if (typeof token !== 'string' || token.length > MAXIMUM_TOKEN_LENGTH) throw fail('malformed', 'not a token');
    const parts = token.split('.');
    if (parts.length !== 3 || parts.some((part) => part === '')) throw fail('malformed', 'not a compact JWS');
    const headerBytes = base64urlBytes(parts[0]);
    const header = headerBytes && parseJSONObject(headerBytes);
    if (!header) throw fail('malformed', 'the header is not a JSON object');
    if (header.alg !== 'ES256') throw fail('unsupportedAlgorithm', 'only ES256 is accepted');
    const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : null;
    if (typ !== 'at+jwt' && typ !== 'application/at+jwt') throw fail('wrongType', 'typ must be at+jwt');
    if (header.crit !== undefined) throw fail('malformed', 'crit is not supported');
    if (typeof header.kid !== 'string') throw fail('unknownKey', 'no kid');
    let keys = await this.#currentKeys();
    let key = keys.byKid.get(header.kid);
    if (!key) {
      // A key published since the last fetch (a rotation), or a made-up kid: refetch, at most once per interval.
      const now = this.#now();
      if (now - this.#lastUnknownKidRefetch >= this.#policy.unknownKeyRefetchInterval * 1000) {
        this.#lastUnknownKidRefetch = now;
        keys = await this.#currentKeys({ force: true });
        key = keys.byKid.get(header.kid);
      }
      if (!key) throw fail('unknownKey', 'the token names a key the issuer does not publish');
    }
    const signature = base64urlBytes(parts[2]);
    if (!signature || signature.length !== 64) throw fail('badSignature', 'the signature is not 64 bytes');
    const valid = await this.#subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, signature, ENCODER.encode(`${parts[0]}.${parts[1]}`));
    if (!valid) throw fail('badSignature', 'the signature does not hold');
    const payloadBytes = base64urlBytes(parts[1]);
    const claims = payloadBytes && parseJSONObject(payloadBytes);
    if (!claims) throw fail('malformed', 'the claims are not a JSON object');
    this.#validate(claims);
    // A DPoP-bound token (RFC 9449, `cnf.jkt`) is good only with a proof by its key: never as a
    // bearer token, which is all this verifier takes.
    if (claims.cnf !== undefined) {
      throw fail('dpopBound', 'the token is bound to a DPoP key: it is not accepted as a bearer token');
    }
    this.#checkRevocation(claims);
    return claims;
  }

  #validate(claims) {
    const now = this.#now() / 1000;
    if (claims.iss !== this.#issuer) throw fail('wrongIssuer', 'iss is not the configured issuer');
    const audience = Array.isArray(claims.aud) && claims.aud.length === 1 ? claims.aud[0] : claims.aud;
    if (audience !== this.#audience) throw fail('wrongAudience', 'aud is not the expected audience');
    for (const name of ['exp', 'nbf', 'iat', 'tv']) {
      if (!Number.isSafeInteger(claims[name])) throw fail('malformed', `${name} must be an integer`);
    }
    for (const name of ['sub', 'sid', 'jti']) {
      if (typeof claims[name] !== 'string' || claims[name] === '') throw fail('malformed', `${name} must be a non-empty string`);
    }
    if (claims.exp + this.#leeway <= now) throw fail('expired', 'the token has expired');
    if (claims.nbf - this.#leeway > now) throw fail('notYetValid', 'the token is not valid yet');
    if (claims.iat - this.#leeway > now) throw fail('issuedInFuture', 'the token was issued in the future');
  }

  // MARK: revocations

  #checkRevocation(claims) {
    if (!this.#revocations) return;
    const now = this.#now();
    if (this.#sessions.has(claims.sid) || this.#tokens.has(claims.jti)) throw fail('revoked', 'the token was revoked');
    const floor = this.#users.get(claims.sub);
    if (floor && claims.tv < floor.tv) throw fail('revoked', "the user's tokens were revoked");
    const stale = this.#lastSync === null || now - this.#lastSync > this.#revocations.maximumStaleness * 1000;
    if (stale && this.#revocations.failureMode === 'closed') {
      throw fail('revocationStatusUnknown', 'the revocation feed has not been read recently: refusing (fail closed)');
    }
  }

  /** True once the revocation feed has been read (or when none is configured). */
  get isRevocationListLoaded() {
    return !this.#revocations || this.#lastSync !== null;
  }

  #apply(events) {
    for (const event of Array.isArray(events) ? events : []) {
      const until = Date.parse(event?.until ?? '');
      if (Number.isNaN(until)) continue;
      if (event.type === 'session' && typeof event.sid === 'string') {
        this.#sessions.set(event.sid, Math.max(this.#sessions.get(event.sid) ?? 0, until));
      } else if (event.type === 'token' && typeof event.jti === 'string') {
        this.#tokens.set(event.jti, Math.max(this.#tokens.get(event.jti) ?? 0, until));
      } else if (event.type === 'user' && typeof event.sub === 'string' && Number.isSafeInteger(event.tv)) {
        const old = this.#users.get(event.sub);
        this.#users.set(event.sub, { tv: Math.max(old?.tv ?? event.tv, event.tv), until: Math.max(old?.until ?? 0, until) });
      }
      // other types: a newer server's, ignored
    }
    const now = this.#now();
    for (const table of [this.#sessions, this.#tokens]) for (const [id, until] of table) if (until < now) table.delete(id);
    for (const [id, floor] of this.#users) if (floor.until < now) this.#users.delete(id);
  }

  async #poll(wait) {
    const settings = this.#revocations;
    const url = new URL(`${this.#base}/v1/revocations`);
    if (this.#cursor !== null) {
      url.searchParams.set('after', this.#cursor);
      url.searchParams.set('wait', String(Math.min(Math.max(wait, 0), 30)));
    }
    this.#abort = new AbortController();
    const timeout = setTimeout(() => this.#abort.abort(), (Math.min(wait, 30) + 15) * 1000);
    timeout.unref?.();
    try {
      const response = await this.#fetch(url, {
        headers: { accept: 'application/json', authorization: `Basic ${btoa(`${settings.clientID}:${settings.clientSecret}`)}` },
        redirect: 'error', signal: this.#abort.signal,
      });
      if (!response.ok) throw new Error(`the revocation feed answered ${response.status}`);
      const page = await response.json();
      if (typeof page?.cursor !== 'string') throw new Error('the revocation feed answered without a cursor');
      this.#apply(page.events);
      this.#cursor = page.cursor;
      this.#lastSync = this.#now();
    } finally {
      clearTimeout(timeout);
    }
  }

  /**
   * Reads the feed once (everything retained on the first call, then what is new): for runtimes
   * without long-lived connections, e.g. on each Worker cold start or at most every few seconds.
   */
  async syncRevocations() {
    if (!this.#revocations) return;
    await this.#poll(0);
  }

  /**
   * Follows the feed by long-polling until `stop()`: for a long-lived process. Resolves once the
   * feed has been read the first time (or rejects if that read fails; the follower keeps trying).
   */
  start() {
    if (!this.#revocations || this.#following) return this.#following?.first ?? Promise.resolve();
    this.#stopped = false;
    let resolveFirst;
    let rejectFirst;
    const first = new Promise((resolve, reject) => {
      resolveFirst = resolve;
      rejectFirst = reject;
    });
    first.catch(() => {});
    const loop = (async () => {
      let failures = 0;
      let firstDone = false;
      while (!this.#stopped) {
        try {
          await this.#poll(this.#cursor === null ? 0 : this.#revocations.wait);
          failures = 0;
          if (!firstDone) {
            firstDone = true;
            resolveFirst();
          }
        } catch (error) {
          if (this.#stopped) break;
          failures += 1;
          if (!firstDone) {
            firstDone = true;
            rejectFirst(error);
          }
          await new Promise((r) => {
            const timer = setTimeout(r, Math.min(250 * 2 ** Math.min(failures, 6), 10_000));
            timer.unref?.();
          });
        }
      }
    })();
    this.#following = { first, loop };
    return first;
  }

  /** Stops following the feed. */
  async stop() {
    this.#stopped = true;
    this.#abort?.abort();
    await this.#following?.loop;
    this.#following = null;
  }
}

/**
 * A middleware for Express (and anything with its `(req, res, next)` shape, plain node:http
 * included): verifies `Authorization: Bearer …`, puts the claims on `req.tegata`, and answers
 * RFC 6750 errors itself — 401 with `WWW-Authenticate` for a missing or refused token, 503 when the
 * keys or the revocation status cannot be known (retry later; never a sign-out).
 */
export function tegataAuth(verifier, { realm = 'api' } = {}) {
  const answer = (res, status, challenge, error, description) => {
    res.statusCode = status;
    if (challenge) res.setHeader('www-authenticate', challenge);
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'no-store');
    res.end(JSON.stringify({ error, error_description: description }));
  };
  return async (req, res, next) => {
    const header = req.headers?.authorization ?? '';
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header);
    if (!match) return answer(res, 401, `Bearer realm="${realm}"`, 'invalid_token', 'a bearer token is required');
    try {
      req.tegata = await verifier.verify(match[1]);
    } catch (error) {
      if (error?.reason === 'keysUnavailable' || error?.reason === 'revocationStatusUnknown') {
        return answer(res, 503, null, 'server_error', 'the token cannot be checked right now; retry shortly');
      }
      return answer(res, 401, `Bearer realm="${realm}", error="invalid_token"`, 'invalid_token', error?.message ?? 'refused');
    }
    return next();
  };
}
