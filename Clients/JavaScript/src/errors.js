// Errors the client throws. Every failure is a TegataClientError with a `code` an app can switch on;
// none of them carries a token, a refresh token or a device secret in its message.

/**
 * @typedef {'signInRequired' | 'signedOut' | 'unavailable' | 'rejected' | 'storage' | 'invalidResponse' | 'notAllowed'} TegataClientErrorCode
 */

export class TegataClientError extends Error {
  /**
   * @param {TegataClientErrorCode} code
   * @param {string} message
   * @param {{ status?: number, serverError?: { error: string, error_description?: string }, retryAfter?: number, cause?: unknown }} [details]
   */
  constructor(code, message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'TegataClientError';
    /** @type {TegataClientErrorCode} */
    this.code = code;
    /** @type {number | undefined} the HTTP status, when the server answered */
    this.status = details.status;
    /** @type {{ error: string, error_description?: string } | undefined} the server's error body */
    this.serverError = details.serverError;
    /** @type {number | undefined} seconds, from `Retry-After` */
    this.retryAfter = details.retryAfter;
  }

  /** True for a 401 `invalid_grant` on device sign-in: the device credentials can never sign in again. */
  get meansDeadDeviceCredentials() {
    return this.code === 'rejected' && this.status === 401 && this.serverError?.error === 'invalid_grant';
  }
}

export const signInRequired = () =>
  new TegataClientError('signInRequired', 'the session ended and could not be renewed silently: sign in again');
export const signedOut = () => new TegataClientError('signedOut', 'signed out');
