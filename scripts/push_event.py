"""Push one signed event to a running sipvakt, as an integrating system would.

    .venv/bin/python scripts/push_event.py examples/case-opened.json
    .venv/bin/python scripts/push_event.py --url http://127.0.0.1:8080 --secret whsec_... FILE

The secret defaults to SIPVAKT_WEBHOOK_SECRET. Prints the service's answer.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from standardwebhooks import Webhook


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path, help="a JSON file holding one event, or an array of events")
    parser.add_argument("--url", default=os.environ.get("SIPVAKT_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--secret", default=os.environ.get("SIPVAKT_WEBHOOK_SECRET"))
    args = parser.parse_args()
    if not args.secret:
        parser.error("give --secret or set SIPVAKT_WEBHOOK_SECRET")
    loaded = json.loads(args.file.read_text(encoding="utf-8"))
    events = loaded if isinstance(loaded, list) else [loaded]
    worst = 0
    for event in events:
        status, answer = push(args.url, args.secret, event)
        print(status, answer)
        worst = max(worst, 0 if status < 300 else 1)
    return worst


def push(url: str, secret: str, event: object) -> tuple[int, str]:
    body = json.dumps(event, ensure_ascii=False)
    message_id = "msg_" + secrets.token_hex(12)
    now = datetime.now(UTC)
    request = urllib.request.Request(
        url.rstrip("/") + "/v1/events",
        data=body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, now, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


if __name__ == "__main__":
    sys.exit(main())
