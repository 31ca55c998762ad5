"""A compromised reconciler for the tamper test: it holds the real server certificate and
answers one agent's plan poll with a config of its choosing, then records the agent's report.

Usage: fake_reconciler.py ADDRESS PORT DATA_DIR AGENT CONFIG_JSON REPORT_OUT
Serves GET /v1/agents/AGENT/plan (generation 1000 with CONFIG_JSON, then 204s) and writes the
body of each POST /v1/agents/AGENT/report to REPORT_OUT. Client certificates must chain to the
data dir's CA, as with the real one.
"""
import http.server
import json
import ssl
import sys
import time

address, port, data, agent, config_path, report_out = sys.argv[1:7]
config = open(config_path).read()
GENERATION = 1000


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path != f"/v1/agents/{agent}/plan":
            return self.answer(404, b'{"error":"not here"}')
        after = int(dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("after", "0"))
        if after >= GENERATION:
            time.sleep(1)
            return self.answer(204)
        body = '{"generation":%d,"revision":1,"desired":%s}' % (GENERATION, config)
        self.answer(200, body.encode())

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path == f"/v1/agents/{agent}/report":
            with open(report_out, "ab") as out:
                out.write(body + b"\n")
        self.answer(204)

    def log_message(self, *args):
        pass


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(f"{data}/server.pem", f"{data}/server-key.pem")
context.load_verify_locations(f"{data}/ca.pem")
context.verify_mode = ssl.CERT_REQUIRED
server = http.server.ThreadingHTTPServer((address, int(port)), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
json.loads(config)  # refuse to start on a broken config: the test would prove nothing
print("listening", flush=True)
server.serve_forever()
