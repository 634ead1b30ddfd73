#!/usr/bin/env python3
"""tests/remote/fake_registry.py: a scripted, misbehaving registry for
tests/integration/t_remote.sh (the real one, docker-registry, is always
well-behaved). Serves on 127.0.0.1:PORT in one of these modes and appends one
line per request ("METHOD PATH AUTHORIZATION") to LOG:

  bearer      /v2/ and everything below it want `Bearer good-token`; the
              token service at /token wants basic alice:s3cret and the
              service and scope of the challenge
  flaky       the first two requests get 503, then /v2/ answers 200
  always-503  every request gets 503
  huge-body   manifests are 5 MiB of JSON
  huge-header responses carry 100 KiB of headers
  stall       /v2/ sends its headers, then nothing
  expiring    like bearer, anonymous, but a token is good for 4 requests
              only; blobs hold "blob-N\n" (N = 0..9) under their digest
  redirect    blobs answer 307 to /storage/ on `localhost` (another host
              name), which serves "hello blob\n" (whatever the digest)

Usage: fake_registry.py MODE PORT LOG
"""
import base64
import hashlib
import http.server
import sys
import time

MODE, PORT, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
COUNT = [0]
TOKEN = {"n": 0, "uses": 0}
BLOBS = {"sha256:" + hashlib.sha256(b"blob-%d\n" % i).hexdigest(): b"blob-%d\n" % i
         for i in range(10)}
CHALLENGE = ('Bearer realm="http://127.0.0.1:%d/token",service="fake",'
             'scope="repository:wsbox/test:pull"' % PORT)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        COUNT[0] += 1
        auth = self.headers.get("Authorization", "-")
        with open(LOG, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, auth))
        getattr(self, "mode_" + MODE.replace("-", "_"))(auth)

    def mode_bearer(self, auth):
        if self.path.startswith("/token?"):
            want = "Basic " + base64.b64encode(b"alice:s3cret").decode()
            ok = (auth == want and "service=fake" in self.path and
                  "scope=repository%3Awsbox%2Ftest%3Apull" in self.path)
            if ok:
                return self.send(200, b'{"token": "good-token"}')
            return self.send(401, b'{"errors": [{"code": "DENIED"}]}')
        if auth != "Bearer good-token":
            return self.send(401, b"{}", [("WWW-Authenticate", CHALLENGE)])
        self.send(200, b"{}")

    def mode_expiring(self, auth):
        if self.path.startswith("/token?"):
            TOKEN["n"] += 1
            TOKEN["uses"] = 0
            return self.send(200, b'{"token": "t%d"}' % TOKEN["n"])
        TOKEN["uses"] += 1
        if auth != "Bearer t%d" % TOKEN["n"] or TOKEN["uses"] > 4:
            return self.send(401, b"{}", [("WWW-Authenticate", CHALLENGE)])
        blob = BLOBS.get(self.path.rsplit("/", 1)[-1])
        if blob is None:
            return self.send(404, b"{}")
        self.send(200, blob)

    def mode_flaky(self, auth):
        self.send(503 if COUNT[0] <= 2 else 200, b"{}")

    def mode_always_503(self, auth):
        self.send(503, b"{}")

    def mode_huge_body(self, auth):
        if "/manifests/" in self.path:
            body = b'{"x": "' + b"a" * (5 << 20) + b'"}'
            return self.send(200, body, [("Content-Type",
                                          "application/vnd.oci.image.manifest.v1+json")])
        self.send(200, b"{}")

    def mode_huge_header(self, auth):
        self.send(200, b"{}", [("X-Pad-%d" % i, "p" * 1000) for i in range(100)])

    def mode_redirect(self, auth):
        if "/blobs/" in self.path:
            return self.send(307, b"", [("Location", "http://localhost:%d/storage/x" % PORT)])
        if self.path.startswith("/storage/"):
            return self.send(200, b"hello blob\n")
        self.send(200, b"{}")

    def mode_stall(self, auth):
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.flush()
        time.sleep(3600)


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
