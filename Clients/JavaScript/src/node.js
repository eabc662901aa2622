// Node-only parts: a file store. Everything else is in index.js and works in Node 18+ as it is.
import { mkdir, open, readFile, rename, rm, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes, webcrypto } from 'node:crypto';
import { TegataClient as BaseClient } from './client.js';

export * from './index.js';

/**
 * TegataClient with Node's Web Crypto as the default `crypto` (Node 18 has no global `crypto`
 * unless a flag is given; later versions have one and use it the same way).
 */
export class TegataClient extends BaseClient {
  constructor(options) {
    super({ crypto: globalThis.crypto ?? webcrypto, ...options });
  }
}

/**
 * Keeps each record in its own file under `directory`: created mode 0700, files mode 0600, each
 * write to a temporary file that is flushed to disk and then renamed over the old one, so a crash
 * leaves the old record or the new one, never half of either.
 */
export class FileStorage {
  #directory;
  /** @param {string} directory */
  constructor(directory) {
    if (typeof directory !== 'string' || directory === '') throw new TypeError('FileStorage: a directory is required');
    this.#directory = directory;
  }

  #path(key) {
    // Keys become file names: anything outside a safe alphabet is hex-escaped.
    const name = Array.from(new TextEncoder().encode(key), (byte) =>
      /[A-Za-z0-9._-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0')}`,
    ).join('');
    return join(this.#directory, `${name}.json`);
  }

  /** @param {string} key */
  async get(key) {
    try {
      return await readFile(this.#path(key), 'utf8');
    } catch (error) {
      if (error?.code === 'ENOENT') return null;
      throw error;
    }
  }

  /** @param {string} key @param {string} value */
  async set(key, value) {
    const path = this.#path(key);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    const file = await open(temporary, 'wx', 0o600);
    try {
      await file.writeFile(String(value), 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await chmod(temporary, 0o600);
    await rename(temporary, path);
  }

  /** @param {string} key */
  async remove(key) {
    await rm(this.#path(key), { force: true });
  }
}
