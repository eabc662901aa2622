#!/usr/bin/env bash
# Runs schemathesis (every check, every phase) against the real `tegata` executable, started with
# every optional feature configured, for at most SCHEMATHESIS_MAX_TIME seconds (default 240).
# Needs `swift build --product tegata` first (it uses .build/debug/tegata) and schemathesis from PyPI.
# Exits non-zero on any failure schemathesis reports.
set -euo pipefail
cd "$(dirname "$0")/../.."

TEGATA=${TEGATA_BINARY:-.build/debug/tegata}
[ -x "$TEGATA" ] || swift build --product tegata
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# An OpenID provider's key set on loopback, so that token exchange and identity links are configured
# for real (their ID tokens never verify: schemathesis cannot sign them).
mkdir -p "$WORK/idp/keys"
python3 - "$WORK/idp/keys/jwks.json" <<'PY'
import base64, json, sys
from cryptography.hazmat.primitives.asymmetric import rsa
numbers = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_numbers()
b64 = lambda n: base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
json.dump({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": b64(numbers.n), "e": b64(numbers.e)}]}, open(sys.argv[1], "w"))
PY
IDP_PORT=$(free_port)
python3 -m http.server "$IDP_PORT" --bind 127.0.0.1 --directory "$WORK/idp" >"$WORK/idp.log" 2>&1 &
PIDS+=($!)

PORT=$(free_port)
export TEGATA_TEST_URL="http://127.0.0.1:$PORT"
export TEGATA_TEST_ORIGIN="http://127.0.0.1:5173"
export TEGATA_TEST_RS_ID="schemathesis-rs"
export TEGATA_TEST_RS_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
export TEGATA_ADMIN_API_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
export TEGATA_REVENUECAT_WEBHOOK_AUTH="Bearer $(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"

(
    export TEGATA_PORT="$PORT" TEGATA_ISSUER="$TEGATA_TEST_URL"
    export TEGATA_DATABASE_URL="sqlite://$WORK/data/tegata.sqlite"
    # Thousands of generated requests from one address, many of them new devices and bad tokens:
    # the limits would answer most of them 429 and hide the behaviour under test.
    export TEGATA_RATE_LIMIT_ENABLED=false
    export TEGATA_MASTER_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
    export TEGATA_INTROSPECTION_CLIENTS="$TEGATA_TEST_RS_ID:$TEGATA_TEST_RS_SECRET"
    export TEGATA_STRIPE_WEBHOOK_SECRET="whsec_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    export TEGATA_STRIPE_ENTITLEMENTS='{"price_pro": "pro"}'
    export TEGATA_ALLOWED_ORIGINS="$TEGATA_TEST_ORIGIN"
    export TEGATA_REALTIME_HMAC_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
    export TEGATA_REALTIME_NAMESPACES="chat,scores"
    export TEGATA_LEGACY_DEVICE_CLAIMS_UNTIL=$(date -u -d "+1 day" +%Y-%m-%dT%H:%M:%SZ)  # claims open, so the claim route is fuzzed past its 403
    export TEGATA_PROVIDERS="{\"test-oidc\": {\"type\": \"oidc\", \"issuer\": \"http://127.0.0.1:$IDP_PORT\", \"jwks_url\": \"http://127.0.0.1:$IDP_PORT/keys/jwks.json\", \"audiences\": [\"schemathesis\"]}}"
    export TEGATA_LOG_LEVEL=warning TEGATA_LOG_FORMAT=json
    exec "$TEGATA" serve
) >"$WORK/tegata.log" 2>&1 &
PIDS+=($!)

python3 - "$TEGATA_TEST_URL/healthz" <<'PY' || { echo "tegata did not start:"; cat "$WORK/tegata.log"; exit 1; }
import sys, time, urllib.request
for _ in range(150):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit(1)
PY

status=0
# One worker before Python 3.12: hypothesis parses lambda sources (ast.parse) while it describes
# strategies, and CPython 3.11's AST construction can fail spuriously when threads do that at once
# (see CPython gh-106905); two workers once crashed a CI run inside schemathesis with "AST
# constructor recursion depth mismatch", in nothing it tested.
WORKERS=$(python3 -c 'import sys; print(2 if sys.version_info >= (3, 12) else 1)')
SCHEMATHESIS_HOOKS=hooks PYTHONPATH=Tests/Schemathesis schemathesis --config-file Tests/Schemathesis/schemathesis.toml run openapi.yaml \
    --url "$TEGATA_TEST_URL" --checks all --max-time "${SCHEMATHESIS_MAX_TIME:-240}" \
    --workers "$WORKERS" --request-timeout 40 --seed "${SCHEMATHESIS_SEED:-1}" --no-color "$@" || status=$?

# Bad input never makes the server fail: its log has no error-level line.
if grep -E '"level": ?"(error|critical)"' "$WORK/tegata.log" | head -20 | grep .; then
    echo "tegata logged errors during the run"; status=1
fi
# The server's own log must hold none of the credentials it was configured with.
for secret in "$TEGATA_TEST_RS_SECRET" "$TEGATA_ADMIN_API_KEY" "${TEGATA_REVENUECAT_WEBHOOK_AUTH#Bearer }"; do
    if grep -qF -- "$secret" "$WORK/tegata.log"; then echo "a configured secret appears in tegata's log"; status=1; fi
done
exit $status
