#!/usr/bin/env python3
"""A stand-in for a Matomo server, for benchmarking Matomo's log importer
(import_logs.py) against hitmap: it answers the importer's API calls and
accepts every bulk tracking request at once, without storing anything.
A real Matomo tracker does far more work per request, so the importer's
speed measured against this stub is an upper bound.

Usage: matomo-stub.py PORT   (serves 127.0.0.1:PORT until killed)
"""

import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.do_POST()

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        if path.endswith((".php",)) and "json" in (self.headers.get("Content-Type") or ""):
            requests = json.loads(raw or b"{}").get("requests", [])
            return self._answer({"status": "success", "tracked": len(requests), "invalid": 0})
        args = dict(urllib.parse.parse_qsl(query + "&" + raw.decode("utf-8", "replace")))
        method = args.get("method", "")
        if method == "SitesManager.getSiteFromId":
            return self._answer({"idsite": args.get("idSite", "1"), "main_url": "https://intranet.example.org"})
        if method == "SitesManager.getSitesIdFromSiteUrl":
            return self._answer([{"idsite": "1"}])
        return self._answer({})


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Stub).serve_forever()
