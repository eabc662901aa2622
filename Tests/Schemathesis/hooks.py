"""Schemathesis hooks for Tegata: credentials for every security scheme of openapi.yaml.

Bearer access tokens and web-session cookies come from fresh device sign-ins, renewed every few
calls, so that a destructive call (logout, account deletion, a revoked session) does not leave the
rest of the run with a dead token. Resource-server, admin and RevenueCat credentials are the ones
run.sh configured the server with (read from the environment).
"""
import base64
import itertools
import json
import os
import secrets
import threading
import time

import requests
import schemathesis
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

BASE = os.environ["TEGATA_TEST_URL"]
_devices = itertools.count()


def _fresh_tokens():
    device = {
        "device_id": f"schemathesis-{os.getpid()}-{next(_devices)}",
        "device_secret": secrets.token_urlsafe(32),
        "platform": "web",
    }
    answer = requests.post(f"{BASE}/v1/auth/device", json=device, timeout=10)
    answer.raise_for_status()
    return answer.json()


def _fresh_cookie(access_token):
    answer = requests.post(f"{BASE}/v1/session", headers={"Authorization": f"Bearer {access_token}"}, timeout=10)
    answer.raise_for_status()
    return answer.cookies.get("tegata_session")


def _schemes(case):
    requirements = case.operation.definition.raw.get("security")
    if requirements is None:
        requirements = case.operation.schema.raw_schema.get("security", [])
    return [name for requirement in requirements for name in requirement]


# Calls that end the caller's own session or account when they succeed: the next call gets new
# credentials instead of a dead token.
DESTRUCTIVE = {("POST", "/v1/logout"), ("DELETE", "/v1/me"), ("DELETE", "/v1/sessions/{id}"), ("DELETE", "/v1/session")}
# One user per worker thread: a destructive call of one worker must not kill another's credentials.
_local = threading.local()


def _cache():
    if not hasattr(_local, "credentials"):
        _local.credentials, _local.uses = None, 0
    return _local


@schemathesis.hook
def after_call(ctx, case, response):
    if (case.method.upper(), case.operation.path) in DESTRUCTIVE and 200 <= response.status_code < 300:
        _cache().credentials = None


@schemathesis.auth(refresh_interval=1)
class TegataCredentials:
    """One provider for every scheme: `get` hands out user credentials (new ones every 10 calls and
    after a destructive call), `set` applies the one the operation asks for."""

    def get(self, case, ctx):
        cache = _cache()
        if cache.credentials is None or cache.uses >= 10:
            tokens = _fresh_tokens()
            cache.credentials = {"access_token": tokens["access_token"], "cookie": _fresh_cookie(tokens["access_token"])}
            cache.uses = 0
        cache.uses += 1
        return cache.credentials

    def set(self, case, data, ctx):
        schemes = _schemes(case)
        if not schemes:
            return
        scheme = schemes[0]
        if case.headers is None:  # an operation without header parameters has none yet
            case.headers = {}
        if scheme == "bearer":
            case.headers["Authorization"] = f"Bearer {data['access_token']}"
        elif scheme in ("sessionCookie", "sessionCookieLoopback"):
            case.cookies = dict(case.cookies or {}, tegata_session=data["cookie"])
            # Cookie-authenticated state changes must come from an allowed origin (CSRF check).
            case.headers["Origin"] = os.environ["TEGATA_TEST_ORIGIN"]
        elif scheme == "basic":
            schemathesis.auths.apply_basic_auth(case, os.environ["TEGATA_TEST_RS_ID"], os.environ["TEGATA_TEST_RS_SECRET"])
        elif scheme == "adminKey":
            case.headers["Authorization"] = f"Bearer {os.environ['TEGATA_ADMIN_API_KEY']}"
        elif scheme == "revenuecat":
            case.headers["Authorization"] = os.environ["TEGATA_REVENUECAT_WEBHOOK_AUTH"]


# DPoP (RFC 9449): a generated `DPoP` header can never be a proof (it signs this very request), so
# each one is replaced by a real proof for the request — a schema-valid request must then be
# accepted, and the bound session it opens is a real one. Refusals of bad proofs are the Swift
# tests' (DPoPTests).
_dpop_key = ec.generate_private_key(ec.SECP256R1())


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _dpop_proof(method, url):
    numbers = _dpop_key.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x.to_bytes(32, "big")), "y": _b64(numbers.y.to_bytes(32, "big"))}
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}
    claims = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time())}
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    r, s = decode_dss_signature(_dpop_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if case.headers and "DPoP" in case.headers:
        path = case.formatted_path if hasattr(case, "formatted_path") else case.path
        case.headers["DPoP"] = _dpop_proof(case.method.upper(), BASE + path)
