"""DPoP proofs for the benchmark (Benchmarks/dpop-bench.sh), made with Python's `cryptography`.

Usage: dpop-proofs.py KEY_FILE sign-in PORT COUNT SECRET DIR   registers COUNT devices with proofs
                                                                  (sessions bound to the key): DIR/refresh-bound.txt
       dpop-proofs.py KEY_FILE proofs ISSUER COUNT FILE         COUNT fresh proofs for POST ISSUER/oauth/token
The key is made once and kept in KEY_FILE (PEM).
"""
import base64
import json
import os
import secrets
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

key_file, mode = sys.argv[1], sys.argv[2]
if os.path.exists(key_file):
    key = serialization.load_pem_private_key(open(key_file, "rb").read(), password=None)
else:
    key = ec.generate_private_key(ec.SECP256R1())
    open(key_file, "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


numbers = key.public_key().public_numbers()
header = b64(json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": {
    "kty": "EC", "crv": "P-256", "x": b64(numbers.x.to_bytes(32, "big")), "y": b64(numbers.y.to_bytes(32, "big"))}}).encode())


def proof(method, url):
    claims = b64(json.dumps({"jti": secrets.token_urlsafe(12), "htm": method, "htu": url, "iat": int(time.time())}).encode())
    r, s = decode_dss_signature(key.sign(f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256())))
    return f"{header}.{claims}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


if mode == "sign-in":
    port, count, secret, work = sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
    base = f"http://127.0.0.1:{port}"

    def sign_in(i):
        body = json.dumps({"device_id": f"bench-bound-{i:05d}", "device_secret": secret, "platform": "ios"}).encode()
        req = urllib.request.Request(f"{base}/v1/auth/device", data=body, headers={
            "Content-Type": "application/json", "DPoP": proof("POST", f"{base}/v1/auth/device")})
        answer = json.load(urllib.request.urlopen(req))
        assert answer["token_type"] == "DPoP", answer
        return answer

    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(sign_in, range(count)))
    open(f"{work}/refresh-bound.txt", "w").write("".join(t["refresh_token"] + "\n" for t in tokens))
else:
    issuer, count, out = sys.argv[3], int(sys.argv[4]), sys.argv[5]
    open(out, "w").write("".join(proof("POST", f"{issuer}/oauth/token") + "\n" for _ in range(count)))
