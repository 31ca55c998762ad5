#!/usr/bin/env python3
"""Helpers for the GitOps end-to-end test (stdlib only).

  gitops.py webhook URL SECRET DELIVERY-ID [BODY-FILE]
      POST a push event signed the way GitHub signs it (X-Hub-Signature-256: HMAC-SHA256 over
      the body); prints the HTTP status and the answer's body on one line.
  gitops.py wait STATUS-URL CA CERT KEY SHA START-NS TIMEOUT-S (converged|rejected)
      Polls GET /v1/status with the admin certificate until the fleet is converged on commit
      SHA (or SHA is the rejected commit); prints the milliseconds since START-NS (a
      time.time_ns() / `date +%s%N` stamp taken before the push). Exit 1 on timeout.
"""
import hashlib
import hmac
import http.client
import json
import ssl
import sys
import time
import urllib.parse


def webhook(url, secret, delivery, body_file=None):
    body = open(body_file, "rb").read() if body_file else json.dumps(
        {"ref": "refs/heads/main", "delivery": delivery}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("POST", parts.path, body=body, headers={
        "Content-Type": "application/json", "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature})
    response = connection.getresponse()
    print(response.status, response.read().decode(errors="replace").replace("\n", " "))


def wait(url, ca, cert, key, sha, start_ns, timeout, condition):
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    parts = urllib.parse.urlsplit(url)
    deadline = time.monotonic() + float(timeout)
    connection = None
    last = None
    while time.monotonic() < deadline:
        try:
            if connection is None:
                connection = http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=5)
            connection.request("GET", "/v1/status")
            response = connection.getresponse()
            last = json.loads(response.read())
        except (OSError, http.client.HTTPException, ValueError):
            connection = None
            time.sleep(0.05)
            continue
        revision = last.get("revision") or {}
        rejected = last.get("rejected") or {}
        if condition == "converged" and last.get("converged") and revision.get("commit") == sha:
            print((time.time_ns() - int(start_ns)) // 1_000_000)
            return 0
        if condition == "rejected" and rejected.get("commit") == sha:
            print((time.time_ns() - int(start_ns)) // 1_000_000)
            return 0
        time.sleep(0.02)
    print("timed out; last status: " + json.dumps(last)[:2000], file=sys.stderr)
    return 1


if __name__ == "__main__":
    if sys.argv[1] == "webhook":
        webhook(*sys.argv[2:])
    elif sys.argv[1] == "wait":
        sys.exit(wait(*sys.argv[2:]))
    else:
        sys.exit("unknown command " + sys.argv[1])
