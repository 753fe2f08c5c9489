"""Local fake HTTP servers of the message providers, counting what they receive: Twilio's Messages
API (create and list) and Postmark's e-mail API (what Anymail's Postmark backend calls).

Each runs in a thread on 127.0.0.1 and a free port, as a context manager. `delay_s` makes it
answer late (after recording the message, like a provider that accepted it but whose answer
timed out); `fail_next(status, body)` makes the next request fail without recording anything.
Below them, builders of the services, agencies and routes that the messages are about.
"""

import base64
import itertools
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from django.utils import timezone

from accounts.models import NotificationTemplate
from accounts.notification_defaults import agency_create_default_templates
from routes.actions import route_create
from services.actions import Actor, service_create
from tests.factories import AgencyFactory, CustomerFactory, DriverFactory

TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "fake-twilio-token"
TWILIO_FROM = "+15005550006"
POSTMARK_TOKEN = "fake-postmark-token"
# What the ESP sends with its tracking webhooks (HTTP basic authentication, "user:password").
WEBHOOK_SECRET = "hook:s3cret"


class FakeServer:
    def __init__(self):
        self.messages = []
        self.requests = []
        self.delay_s = 0
        self._failures = []
        self._lock = threading.Lock()
        self._server = None

    def fail_next(self, status, body):
        """The next request is answered with status and the JSON body, recording nothing."""
        self._failures.append((status, body))

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._handle(self, "GET")

            def do_POST(self):
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, request, method):
        parts = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append((method, parts.path))
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            self._answer(request, *failure)
            return
        status, payload = self.respond(method, parts, request.headers, body)
        if self.delay_s:
            time.sleep(self.delay_s)
        self._answer(request, status, payload)

    @staticmethod
    def _answer(request, status, payload):
        data = json.dumps(payload).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting: the message was received all the same

    def respond(self, method, parts, headers, body):
        raise NotImplementedError


class FakeTwilio(FakeServer):
    """POST and GET /2010-04-01/Accounts/{sid}/Messages.json, with basic authentication."""

    _numbers = itertools.count(1)
    # What Twilio reports it charged at creation (usually nothing yet), e.g. "-0.00750".
    price = None

    def respond(self, method, parts, headers, body):
        expected = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if headers.get("Authorization") != f"Basic {expected}":
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        if parts.path != f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json":
            return 404, {"code": 20404, "message": "Not found", "status": 404}
        if method == "GET":
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            with self._lock:
                found = [
                    message
                    for message in reversed(self.messages)
                    if message["to"] == query.get("To", message["to"])
                    and message["from"] == query.get("From", message["from"])
                ]
            return 200, {
                "messages": found,
                "next_page_uri": None,
                "page": 0,
                "page_size": int(query.get("PageSize", 50)),
                "uri": parts.path,
            }
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        message = {
            "sid": f"SM{next(self._numbers):032x}",
            "account_sid": TWILIO_SID,
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body"),
            "status": "queued",
            "price": self.price,
            "price_unit": "USD",
            "date_created": format_datetime(datetime.now(UTC), usegmt=True),
            "status_callback": form.get("StatusCallback"),
        }
        with self._lock:
            self.messages.append(message)
        return 201, message


class FakePostmark(FakeServer):
    """POST /email and GET /messages/outbound (the search, by recipient or one metadata_<key>),
    with Postmark's server token header."""

    def respond(self, method, parts, headers, body):
        if headers.get("X-Postmark-Server-Token") != POSTMARK_TOKEN:
            return 401, {"ErrorCode": 10, "Message": "Bad or missing API token"}
        if method == "GET" and parts.path == "/messages/outbound":
            return self._search({key: values[0] for key, values in parse_qs(parts.query).items()})
        if method != "POST" or parts.path != "/email":
            return 404, {"ErrorCode": 404, "Message": "Not found"}
        email = json.loads(body)
        message_id = str(uuid.uuid4())
        with self._lock:
            self.messages.append({**email, "MessageID": message_id})
        return 200, {
            "To": email["To"],
            "SubmittedAt": datetime.now(UTC).isoformat(),
            "MessageID": message_id,
            "ErrorCode": 0,
            "Message": "OK",
        }

    def _search(self, query):
        filters = {key[len("metadata_") :]: value for key, value in query.items()
                   if key.startswith("metadata_")}  # fmt: skip
        with self._lock:
            found = [
                {"MessageID": email["MessageID"], "Recipients": [email["To"]], "Status": "Sent",
                 "Subject": email.get("Subject", ""), "Metadata": email.get("Metadata") or {}}
                for email in reversed(self.messages)
                if query.get("recipient", email["To"]) == email["To"]
                and all((email.get("Metadata") or {}).get(k) == v for k, v in filters.items())
            ]  # fmt: skip
        count, offset = int(query.get("count", 50)), int(query.get("offset", 0))
        return 200, {"TotalCount": len(found), "Messages": found[offset : offset + count]}


def use_twilio(settings, fake, *, timeout_s=2):
    """Points the SMS backend at the fake."""
    settings.SMS_BACKEND = "tracking.lib.sms.TwilioBackend"
    settings.TWILIO_ACCOUNT_SID = TWILIO_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_FROM_NUMBER = TWILIO_FROM
    settings.TWILIO_BASE_URL = fake.url
    settings.TWILIO_TIMEOUT_S = timeout_s


def use_postmark(settings, fake, *, timeout_s=2):
    """Points Django's e-mail at Anymail's Postmark backend, and that at the fake."""
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {
        "POSTMARK_SERVER_TOKEN": POSTMARK_TOKEN,
        "POSTMARK_API_URL": fake.url + "/",
        "REQUESTS_TIMEOUT": timeout_s,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


# What the messages are about ----------------------------------------------------------------------


def agency_with_templates(account, *, all_on=True, name="Acme Express"):
    """An agency of the account with the default templates, every SMS and e-mail switched on
    (all_on) or as the defaults have them."""
    agency = AgencyFactory(account=account, name=name)
    agency_create_default_templates(agency=agency, language=account.language)
    if all_on:
        NotificationTemplate.objects.filter(agency=agency).update(
            sms_enabled=True, email_enabled=True
        )
    return agency


def customer_of(account, **values):
    return CustomerFactory(
        account=account,
        **{"name": "Maria Silva", "phone": "+5511999990001", "email": "maria@example.com",
           **values},
    )  # fmt: skip


def service_registered(account, *, agency=None, customer=None, **values):
    """A service created through the action (so its `created` event fires its trigger)."""
    return service_create(
        account=account,
        actor=Actor.system(),
        values={
            "customer": customer or customer_of(account),
            "agency": agency,
            "order_number": "PED-10422",
            "lat": -23.5617,
            "lng": -46.6560,
            "deadline": timezone.now() + timedelta(days=1),
            **values,
        },
    )


def route_of(account, services, *, driver=None, end_date=None):
    driver = driver or DriverFactory(account=account, first_name="Carlos")
    return route_create(
        account=account,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=timezone.localdate(),
        services=services,
        end_date=end_date,
    )
