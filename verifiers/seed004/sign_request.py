#!/usr/bin/env python3
"""Submit one bare record to a coldchain node as a seed 004 signed request.

An enterprise system that holds an app id and its secret (issued by its
bureau, seed 004 §8.1 table 1) signs the request with HMAC-SHA256 and sends
it to the issuing bureau's gateway (docs/FORMATS.md, "Signed requests").
Python 3.11+, standard library only.

    python3 sign_request.py [--wait] BASE_URL APPID SECRET [RECORD.json]

The record is read from RECORD.json, or from stdin when it is absent or "-",
and sent byte for byte as read. --wait asks the node to answer once the
record is finalized (?wait=finalized). Prints the node's JSON answer; exit
code 0 on a 2xx answer, 1 otherwise.
"""

import hashlib
import hmac
import secrets
import sys
import time
import urllib.error
import urllib.request

USAGE = "usage: sign_request.py [--wait] BASE_URL APPID SECRET [RECORD.json]"

def sign(secret: str, appid: str, timestamp: str, nonce: str, method: str, target: str, body: bytes) -> str:
    """hex(HMAC-SHA256(secret, appid \\n timestamp \\n nonce \\n method \\n target \\n hex(SHA-256(body))))."""
    string_to_sign = "\n".join([appid, timestamp, nonce, method, target, hashlib.sha256(body).hexdigest()])
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_headers(secret: str, appid: str, method: str, target: str, body: bytes) -> dict[str, str]:
    """The four headers of seed 004 table 1, with a fresh timestamp and nonce."""
    timestamp = str(time.time_ns() // 1_000_000)  # milliseconds since the Unix epoch
    nonce = secrets.token_hex(16)  # 32 of [0-9a-f]: new for every request
    return {
        "appid": appid,
        "timestamp": timestamp,
        "nonce": nonce,
        "signature": sign(secret, appid, timestamp, nonce, method, target, body),
    }


def main(argv: list[str]) -> int:
    wait = "--wait" in argv
    args = [a for a in argv if a != "--wait"]
    if len(args) not in (3, 4):
        print(USAGE, file=sys.stderr)
        return 1
    base_url, appid, secret = args[0].rstrip("/"), args[1], args[2]
    try:
        if len(args) == 4 and args[3] != "-":
            with open(args[3], "rb") as f:
                body = f.read()
        else:
            body = sys.stdin.buffer.read()
    except OSError as e:
        print(f"reading the record: {e}", file=sys.stderr)
        return 1

    # The signature covers the path and query exactly as sent.
    target = "/v1/records?wait=finalized" if wait else "/v1/records"
    headers = signed_headers(secret, appid, "POST", target, body)
    headers["content-type"] = "application/json"
    request = urllib.request.Request(base_url + target, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as e:  # 4xx and 5xx: the node's answer names the problem
        status, answer = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        print(f"POST {base_url + target}: {e}", file=sys.stderr)
        return 1
    print(answer.decode("utf-8", errors="replace"))
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
