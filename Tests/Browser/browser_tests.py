#!/usr/bin/env python3
"""The JavaScript client in real headless Chromium (Debian's chromium and chromium-driver, Selenium
from PyPI) against a real `tegata serve` and small pages served on loopback.

What runs: two tabs across an access token's expiry make exactly one refresh (Web Locks, the
shared localStorage record, BroadcastChannel); the session cookie's attributes as the browser
stores them, and that page scripts cannot read it; the IndexedDB store; the page's access token and a cookie logout everywhere; keep-alive on focus and while visible, paused while hidden; sliding renewal of the cookie; the cookie
session's one-recovery-then-stop rule with a provider callback that fails; CORS and CSRF from the
allowed origin and from a foreign one; a page on localhost does not get the cookie of a Tegata on
127.0.0.1 (another site), as docs/web.md warns.

Run: python3 Tests/Browser/browser_tests.py (TEGATA_BIN: the tegata executable; default the debug
build). `swift test` runs it through Tests/TegataServerTests/BrowserTests.swift.
"""
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGE = REPOSITORY / "Clients" / "JavaScript"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tegata_executable():
    if os.environ.get("TEGATA_BIN"):
        return os.environ["TEGATA_BIN"]
    for candidate in (REPOSITORY / ".build/debug/tegata", REPOSITORY / ".build/x86_64-unknown-linux-gnu/debug/tegata"):
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("no tegata executable: build it (swift build) or set TEGATA_BIN")


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>tegata test page</title></head>
<body><p>tegata browser test</p>
<script type="module">
  import * as tegata from '/src/index.js';
  window.tegata = tegata;
  window.TEGATA_URL = %s;
  window.pageReady = true;
</script></body></html>
"""


class PageHandler(http.server.BaseHTTPRequestHandler):
    """Serves the test page at / and the package's modules under /src/."""

    tegata_url = ""

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/":
            body = (PAGE % json.dumps(self.tegata_url)).encode()
            kind = "text/html; charset=utf-8"
        elif path.startswith("/src/") and path.endswith(".js") and ".." not in path:
            file = PACKAGE / path.lstrip("/")
            if not file.is_file():
                self.send_error(404)
                return
            body = file.read_bytes()
            kind = "text/javascript; charset=utf-8"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.send_header("cache-control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve_pages(port, tegata_url):
    handler = type("Handler", (PageHandler,), {"tegata_url": tegata_url})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class BrowserTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.mkdtemp(prefix="tegata-browser-")
        cls.port = free_port()
        cls.metrics_port = free_port()
        cls.page_port = free_port()
        cls.foreign_port = free_port()
        cls.localhost_port = free_port()
        cls.tegata_url = f"http://127.0.0.1:{cls.port}"
        cls.page_origin = f"http://127.0.0.1:{cls.page_port}"
        cls.foreign_origin = f"http://127.0.0.1:{cls.foreign_port}"
        cls.localhost_origin = f"http://localhost:{cls.localhost_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEGATA_")}
        env.update({
            "TEGATA_HOST": "127.0.0.1",
            "TEGATA_PORT": str(cls.port),
            "TEGATA_DATABASE_URL": f"sqlite://{cls.directory}/tegata.sqlite",
            "TEGATA_RATE_LIMIT_ENABLED": "false",
            "TEGATA_ACCESS_TOKEN_TTL": "60s",
            "TEGATA_ALLOWED_ORIGINS": f"{cls.page_origin},{cls.localhost_origin}",
            "TEGATA_METRICS_PORT": str(cls.metrics_port),
            "TEGATA_LOG_LEVEL": "warning",
        })
        cls.log = open(Path(cls.directory) / "tegata.log", "w")
        cls.server = subprocess.Popen([tegata_executable(), "serve"], env=env, cwd=cls.directory, stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{cls.tegata_url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if cls.server.poll() is not None or time.time() > deadline:
                raise RuntimeError("tegata did not start: " + (Path(cls.directory) / "tegata.log").read_text())
            time.sleep(0.1)
        cls.pages = serve_pages(cls.page_port, cls.tegata_url)
        cls.foreign_pages = serve_pages(cls.foreign_port, cls.tegata_url)
        cls.localhost_pages = serve_pages(cls.localhost_port, cls.tegata_url)

        options = webdriver.ChromeOptions()
        options.binary_location = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--disable-background-timer-throttling", "--disable-renderer-backgrounding"):
            options.add_argument(argument)
        service = Service(executable_path=os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver"))
        cls.driver = webdriver.Chrome(options=options, service=service)
        cls.driver.set_script_timeout(30)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.driver.quit()
        finally:
            cls.pages.shutdown()
            cls.foreign_pages.shutdown()
            cls.localhost_pages.shutdown()
            cls.server.terminate()
            try:
                cls.server.wait(10)
            except subprocess.TimeoutExpired:
                cls.server.kill()
            cls.log.close()
            shutil.rmtree(cls.directory, ignore_errors=True)

    # helpers

    def open_page(self, origin=None, new_tab=False):
        if new_tab:
            self.driver.switch_to.new_window("tab")
        self.driver.get((origin or self.page_origin) + "/")
        deadline = time.time() + 20
        while not self.driver.execute_script("return window.pageReady === true"):
            if time.time() > deadline:
                raise AssertionError("the page's module did not load")
            time.sleep(0.05)
        return self.driver.current_window_handle

    def run_js(self, body, *args):
        """Runs an async function body in the page; returns its result or raises its error."""
        script = ("const done = arguments[arguments.length - 1];"
                  "(async (...args) => {" + body + "})(...Array.from(arguments).slice(0, -1))"
                  ".then((value) => done({ ok: true, value }), (error) => done({ ok: false, error: String(error && error.stack || error) }));")
        result = self.driver.execute_async_script(script, *args)
        if not result["ok"]:
            raise AssertionError("page script failed: " + result["error"])
        return result["value"]

    def refreshes(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("tegata_refreshes_total"))

    def close_other_tabs(self):
        handles = self.driver.window_handles
        for handle in handles[1:]:
            self.driver.switch_to.window(handle)
            self.driver.close()
        self.driver.switch_to.window(handles[0])

    def session_cookie(self):
        cookies = self.driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
        return [c for c in cookies if c["name"] == "tegata_session"]

    def clear_browser_state(self):
        self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        self.open_page()
        self.driver.execute_script("localStorage.clear()")

    def setUp(self):
        self.clear_browser_state()

    def tearDown(self):
        self.close_other_tabs()

    # tests

    def test_two_tabs_across_an_expiry_make_exactly_one_refresh(self):
        make_client = """
            window.clock = { offset: 0 };
            window.client = new tegata.TegataClient({ baseURL: TEGATA_URL, storage: new tegata.LocalStorageStorage(),
                now: () => Date.now() + window.clock.offset });
            await client.ready();
        """
        first = self.open_page()
        self.assertTrue(self.driver.execute_script("return typeof navigator.locks?.request === 'function'"), "Web Locks in this browser")
        self.run_js(make_client + "await client.signInWithDevice(); return client.state.status;")
        second = self.open_page(new_tab=True)
        status = self.run_js(make_client + "return client.state.status;")
        self.assertEqual(status, "signedIn", "the second tab adopts the stored session")
        before = self.refreshes()
        # Both tabs' clocks move past the renewal margin; both ask for a token at the same moment.
        for handle in (first, second):
            self.driver.switch_to.window(handle)
            self.run_js("clock.offset = 50000; window.pending = client.accessToken(); return true;")
        tokens = []
        for handle in (first, second):
            self.driver.switch_to.window(handle)
            tokens.append(self.run_js("return await window.pending;"))
        self.assertTrue(tokens[0] == tokens[1], "both tabs hold the one renewed token")
        self.assertEqual(self.refreshes() - before, 1, "exactly one refresh for the two tabs")
        # The first tab learned of the record through the BroadcastChannel too: its next call needs nothing.
        self.driver.switch_to.window(first)
        self.assertTrue(self.run_js("clock.offset = 0; return await client.accessToken();") == tokens[0])
        self.assertEqual(self.refreshes() - before, 1)

    def test_indexeddb_storage_keeps_the_record_for_another_client(self):
        result = self.run_js("""
            const storage = new tegata.IndexedDBStorage({ database: 'tegata-browser-test' });
            const empty = await storage.get('k');
            await storage.set('k', 'v1');
            await storage.set('k', 'v2');
            const kept = await storage.get('k');
            await storage.remove('k');
            const removed = await storage.get('k');
            const client = new tegata.TegataClient({ baseURL: TEGATA_URL, storage, storageKey: 'idb-test' });
            const user = await client.signInWithDevice();
            const other = new tegata.TegataClient({ baseURL: TEGATA_URL, storage: new tegata.IndexedDBStorage({ database: 'tegata-browser-test' }), storageKey: 'idb-test' });
            await other.ready();
            const me = await other.me();
            return { empty, kept, removed, same: me.id === user.id, status: other.state.status };
        """)
        self.assertEqual(result, {"empty": None, "kept": "v2", "removed": None, "same": True, "status": "signedIn"})

    def open_cookie_session(self, extra=""):
        return self.run_js("""
            const client = new tegata.TegataClient({ baseURL: TEGATA_URL });
            await client.signInWithDevice();
            window.requests = [];
            const counting = (url, init) => { window.requests.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`); return fetch(url, init); };
            window.session = new tegata.WebSession({ baseURL: TEGATA_URL, fetch: counting, keepAliveInterval: 3600, """ + extra + """ });
            window.states = [];
            session.onStateChange((state) => states.push(state.status));
            await session.signInWithAccessToken(await client.accessToken());
            return session.state;
        """)

    def test_the_cookie_is_stored_httponly_lax_on_path_root_and_is_not_readable_by_the_page(self):
        state = self.open_cookie_session()
        self.assertEqual(state["status"], "signedIn")
        cookies = self.session_cookie()
        self.assertEqual(len(cookies), 1, cookies)
        cookie = cookies[0]
        self.assertTrue(cookie["httpOnly"])
        self.assertEqual(cookie["sameSite"], "Lax")
        self.assertEqual(cookie["path"], "/")
        self.assertEqual(cookie["domain"], "127.0.0.1")
        self.assertFalse(cookie["secure"], "a plain-http loopback issuer (local development) drops Secure")
        self.assertFalse(cookie.get("session", False), "a persistent cookie (Max-Age)")
        self.assertAlmostEqual(cookie["expires"], time.time() + 7 * 86400, delta=120)
        self.assertNotIn("tegata_session", self.driver.execute_script("return document.cookie"))

    def test_reading_the_session_slides_the_cookie_expiry(self):
        self.open_cookie_session()
        before = self.session_cookie()[0]["expires"]
        time.sleep(2.2)
        state = self.run_js("return await session.check();")
        self.assertEqual(state["status"], "signedIn")
        after = self.session_cookie()[0]["expires"]
        self.assertGreaterEqual(after - before, 2, f"renewed: {before} → {after}")

    def test_keep_alive_on_focus_and_while_visible_paused_while_hidden(self):
        self.open_cookie_session("keepAliveInterval: 0.4")
        result = self.run_js("""
            const wait = (ms) => new Promise((r) => setTimeout(r, ms));
            const reads = () => requests.filter((r) => r === 'GET /v1/session').length;
            await session.start();
            requests.length = 0;
            await wait(1500);
            const whileVisible = reads();
            // The page is hidden (the real document, its visibility overridden): the interval pauses.
            Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
            document.dispatchEvent(new Event('visibilitychange'));
            await wait(100);
            requests.length = 0;
            await wait(1500);
            const whileHidden = reads();
            Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
            document.dispatchEvent(new Event('visibilitychange'));
            await wait(100);
            const onShow = reads();
            window.dispatchEvent(new Event('focus'));
            await wait(100);
            const onFocus = reads() - onShow;
            session.stop();
            delete document.visibilityState;
            return { whileVisible, whileHidden, onShow, onFocus, status: session.state.status };
        """)
        self.assertGreaterEqual(result["whileVisible"], 2, result)
        self.assertEqual(result["whileHidden"], 0, result)
        self.assertEqual(result["onShow"], 1, result)
        self.assertEqual(result["onFocus"], 1, result)
        self.assertEqual(result["status"], "signedIn")

    def test_after_a_refused_cookie_one_recovery_then_sign_in_required_and_silence(self):
        self.open_cookie_session("provider: 'line', getIdToken: async () => { window.idTokenCalls = (window.idTokenCalls ?? 0) + 1; return 'not-an-id-token'; }")
        # The session is ended (another tab signed out): the cookie is cleared and refused from now on.
        ended = self.run_js("""
            const response = await fetch(`${TEGATA_URL}/v1/session`, { method: 'DELETE', credentials: 'include' });
            return response.status;
        """)
        self.assertEqual(ended, 204)
        result = self.run_js("""
            requests.length = 0;
            await session.check();
            for (let i = 0; i < 3; i += 1) {
                window.dispatchEvent(new Event('focus'));
                document.dispatchEvent(new Event('visibilitychange'));
                await session.check();
            }
            await new Promise((r) => setTimeout(r, 300));
            return { status: session.state.status, calls: window.idTokenCalls, requests, states };
        """)
        self.assertEqual(result["status"], "signInRequired")
        self.assertEqual(result["calls"], 1, "the provider callback is asked once")
        self.assertEqual(result["requests"], ["GET /v1/session", "POST /oauth/token"], "one read, one recovery attempt, then nothing")
        self.assertEqual(result["states"].count("signInRequired"), 1, "reported once")
        self.assertEqual(self.driver.current_url, self.page_origin + "/", "never a redirect")

    def test_a_page_on_localhost_is_another_site_than_tegata_on_127_0_0_1(self):
        """docs/web.md's local set-up: localhost and 127.0.0.1 are different sites, so a SameSite=Lax
        cookie set by Tegata on 127.0.0.1 is not kept or sent for a page on localhost, even with the
        origin allowed (CORS works; the cookie does not). The page must use the same host as Tegata."""
        self.open_page(origin=self.localhost_origin)
        result = self.run_js("""
            const client = new tegata.TegataClient({ baseURL: TEGATA_URL });
            await client.signInWithDevice();  // bearer calls work cross-site: CORS allows the origin
            const session = new tegata.WebSession({ baseURL: TEGATA_URL, keepAliveInterval: 3600 });
            await session.signInWithAccessToken(await client.accessToken());
            const read = await fetch(`${TEGATA_URL}/v1/session`, { credentials: 'include' });
            return { opened: session.state.status, read: read.status };
        """)
        self.assertEqual(result["opened"], "signedIn", "POST /v1/session answered")
        self.assertEqual(result["read"], 401, "but the cookie does not come back to a page of another site")
        # The same page on Tegata's own host keeps and sends it (test_the_cookie_is_stored_…).

    def test_the_page_token_and_a_cookie_logout_everywhere_across_origins(self):
        self.open_cookie_session()
        result = self.run_js("""
            const token = await session.accessToken();
            const me = await fetch(`${TEGATA_URL}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
            await session.signOut({ scope: 'global' });   // POST /v1/logout with the cookie, after a CORS preflight
            const after = await fetch(`${TEGATA_URL}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
            const read = await fetch(`${TEGATA_URL}/v1/session`, { credentials: 'include' });
            return { me: me.status, status: session.state.status, after: after.status, read: read.status };
        """)
        self.assertEqual(result, {"me": 200, "status": "signedOut", "after": 401, "read": 401})
        self.assertEqual(self.session_cookie(), [], "the logout cleared the cookie")

    def test_cors_and_csrf_from_the_allowed_and_a_foreign_origin(self):
        self.open_cookie_session()
        allowed = self.run_js("""
            const response = await fetch(`${TEGATA_URL}/v1/session`, { credentials: 'include' });
            return { status: response.status, user: (await response.json()).user?.id ?? null };
        """)
        self.assertEqual(allowed["status"], 200)
        self.assertIsNotNone(allowed["user"])
        # A foreign origin (not in TEGATA_ALLOWED_ORIGINS) can neither read the session nor end it.
        self.open_page(origin=self.foreign_origin, new_tab=True)
        foreign = self.run_js("""
            const outcome = async (init) => {
                try { const r = await fetch(`${TEGATA_URL}/v1/session`, { credentials: 'include', ...init }); return `answered ${r.status}`; }
                catch (error) { return 'blocked'; }
            };
            return { read: await outcome({}), end: await outcome({ method: 'DELETE' }) };
        """)
        self.assertEqual(foreign["read"], "blocked", "no CORS headers for a foreign origin: the answer is not readable")
        self.assertEqual(foreign["end"], "blocked", "the preflight of a cross-origin DELETE fails")
        self.close_other_tabs()
        still = self.run_js("return (await session.check()).status;")
        self.assertEqual(still, "signedIn", "the session survived the foreign page")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
