"""The soak's message providers: the fake Twilio and Postmark of the tests (tests/lastmile/fakes.py)
in a process of their own, answering late like real APIs and logging every message they accept
with the outbox id it carries (Twilio's status callback address names it; Postmark's metadata).

Postmark posts its delivery webhook back to the app (with the webhook's basic-auth secret), as
it does in production; one that fails (the app restarting its database) is tried again every 2 s
for up to CALLBACK_PATIENCE_S. Twilio sends no status callbacks here, as for a number whose
carrier returns no delivery receipts: an SMS whose worker died during its send is then settled
by the outbox alone (lastmile.sending: the claim taken over once stale, Twilio's message list
asked before any second send), which is what the soak means to exercise.

`python -m benchmarks.soak.providers READY.json --app-url URL` writes the servers' addresses to
READY.json once they listen, and serves until SIGTERM. GET /_soak/log on either server answers
what both received and how the callbacks went.
"""

import argparse
import heapq
import json
import os
import re
import signal
import sys
import threading
import time
from datetime import UTC, datetime

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracking.settings")

# How long the providers take to answer a send (they accept it first): what makes a worker
# killed "in the middle of sends" likely to be waiting for an answer.
ANSWER_DELAY_S = 0.2
# Delivery news follows the acceptance after this long, like a handset's receipt.
CALLBACK_AFTER_S = 1.0
CALLBACK_PATIENCE_S = 180
CALLBACK_THREADS = 4
LOG_PATH = "/_soak/log"
STATUS_PATH = re.compile(r"/hooks/twilio/status/(\d+)/?$")


class Callbacks:
    """Posts due callbacks from a few threads; a failure is tried again later."""

    def __init__(self):
        import requests

        self.requests = requests
        self._heap = []
        self._cond = threading.Condition()
        self._counter = 0
        self.done = 0
        self.gave_up = 0
        self.errors = {}
        self.stopped = False
        self._in_flight = 0
        for _ in range(CALLBACK_THREADS):
            threading.Thread(target=self._run, daemon=True).start()

    def add(self, url, **kwargs):
        now = time.monotonic()
        with self._cond:
            self._counter += 1
            heapq.heappush(self._heap, (now + CALLBACK_AFTER_S, self._counter, url, kwargs, now))
            self._cond.notify()

    @property
    def pending(self):
        with self._cond:
            return len(self._heap) + self._in_flight

    def _run(self):
        session = self.requests.Session()
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    if self.stopped:
                        return
                    wait = self._heap[0][0] - time.monotonic() if self._heap else 1.0
                    self._cond.wait(timeout=max(0.01, min(wait, 1.0)))
                _due, number, url, kwargs, first = heapq.heappop(self._heap)
                self._in_flight += 1
            outcome = "exception"
            try:
                outcome = self._post(session, url, kwargs)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    if outcome == "ok":
                        self.done += 1
                    else:
                        self.errors[outcome] = self.errors.get(outcome, 0) + 1
                        if time.monotonic() - first > CALLBACK_PATIENCE_S:
                            self.gave_up += 1
                        else:
                            heapq.heappush(
                                self._heap, (time.monotonic() + 2.0, number, url, kwargs, first)
                            )
                            self._cond.notify()

    def _post(self, session, url, kwargs):
        try:
            response = session.post(url, timeout=15, allow_redirects=False, **kwargs)
        except self.requests.RequestException as exc:
            return type(exc).__name__
        return "ok" if response.status_code < 300 else str(response.status_code)


def build_servers(app_url):
    import django

    django.setup()

    from tests.lastmile import fakes

    received = []
    lock = threading.Lock()
    callbacks = Callbacks()
    # The app sits behind a TLS proxy in production: the proxy's header, not a redirect to https.
    proxy = {"X-Forwarded-Proto": "https"}

    def log():
        with lock:
            return 200, {
                "received": list(received),
                "callbacks": {
                    "done": callbacks.done,
                    "pending": callbacks.pending,
                    "gave_up": callbacks.gave_up,
                    "errors": dict(callbacks.errors),
                },
            }

    def note(channel, outbox_id, provider_id):
        with lock:
            received.append(
                {
                    "channel": channel,
                    "outbox_id": outbox_id,
                    "provider_id": provider_id,
                    "at": time.time(),
                }
            )

    class Twilio(fakes.FakeTwilio):
        def respond(self, method, parts, headers, body):
            if parts.path == LOG_PATH:
                return log()
            status, payload = super().respond(method, parts, headers, body)
            if method == "POST" and status == 201:
                callback = payload.get("status_callback") or ""
                match = STATUS_PATH.search(callback)
                note("sms", int(match.group(1)) if match else None, payload["sid"])
            return status, payload

    class Postmark(fakes.FakePostmark):
        def respond(self, method, parts, headers, body):
            if parts.path == LOG_PATH:
                return log()
            status, payload = super().respond(method, parts, headers, body)
            if method == "POST" and status == 200 and payload.get("ErrorCode") == 0:
                email = json.loads(body)
                metadata = email.get("Metadata") or {}
                outbox_id = metadata.get("outbox_id")
                note(
                    "email",
                    int(outbox_id) if str(outbox_id).isdigit() else None,
                    payload["MessageID"],
                )
                user, _, password = fakes.WEBHOOK_SECRET.partition(":")
                callbacks.add(
                    f"{app_url}/hooks/anymail/postmark/tracking/",
                    json={
                        "RecordType": "Delivery",
                        "MessageID": payload["MessageID"],
                        "Recipient": payload["To"],
                        "DeliveredAt": datetime.now(UTC).isoformat(),
                        "Details": "soak delivery",
                        "Tag": email.get("Tag", ""),
                        "Metadata": metadata,
                        "MessageStream": "outbound",
                    },
                    auth=(user, password),
                    headers=proxy,
                )
            return status, payload

    twilio, postmark = Twilio(), Postmark()
    twilio.delay_s = postmark.delay_s = ANSWER_DELAY_S
    return twilio, postmark, callbacks, fakes


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak.providers")
    parser.add_argument("ready", help="where the servers' addresses are written once listening")
    parser.add_argument("--app-url", required=True, help="the app, for the delivery callbacks")
    args = parser.parse_args(argv)

    twilio, postmark, callbacks, fakes = build_servers(args.app_url.rstrip("/"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with twilio, postmark:
        tmp = args.ready + ".tmp"
        with open(tmp, "w") as out:
            json.dump(
                {
                    "twilio": twilio.url,
                    "postmark": postmark.url,
                    "twilio_sid": fakes.TWILIO_SID,
                    "twilio_token": fakes.TWILIO_TOKEN,
                    "twilio_from": fakes.TWILIO_FROM,
                    "postmark_token": fakes.POSTMARK_TOKEN,
                    "webhook_secret": fakes.WEBHOOK_SECRET,
                },
                out,
            )
        os.replace(tmp, args.ready)
        while not stop.wait(0.5):
            pass
        callbacks.stopped = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
