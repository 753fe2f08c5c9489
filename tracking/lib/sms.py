"""SMS backends, shaped like Django's e-mail backends and chosen by settings.SMS_BACKEND."""

import abc
import json
import threading
import unicodedata
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client


@dataclass
class SmsMessage:
    to: str
    body: str
    sender: str = ""
    # Filled in by the backend that sent it.
    provider_id: str = ""
    status: str = ""
    meta: dict = field(default_factory=dict)


class SmsError(Exception):
    """A message the backend could not hand over.

    permanent: retrying cannot help (an invalid or unreachable number).
    maybe_sent: the request may have reached the provider and been accepted (a timeout waiting
    for the answer, a server error): do not send it again without asking the provider first.
    """

    def __init__(self, message, *, code="", permanent=False, maybe_sent=False):
        super().__init__(message)
        self.code = str(code or "")
        self.permanent = permanent
        self.maybe_sent = maybe_sent


class BaseBackend(abc.ABC):
    """Sends messages; returns them with provider_id and status filled in. Raises SmsError."""

    # The name recorded with each message sent through the backend.
    provider = ""
    # Whether find_sent can tell if a message was accepted by the provider (see find_sent).
    can_find_sent = False

    @abc.abstractmethod
    def send_messages(self, messages):
        """Sends each message and returns the list, each with provider_id and status set."""

    def send(self, message):
        return self.send_messages([message])[0]

    def find_sent(self, message, *, since):
        """The message as the provider accepted it (provider_id and status set) when a message
        to the same number with the same text was accepted since `since`, else None. Used to
        settle a send whose outcome is unknown before sending it again."""
        return None


class ConsoleBackend(BaseBackend):
    """Prints each message; the default, so a fresh install sends nothing anywhere."""

    provider = "console"

    def __init__(self, stream=None):
        self.stream = stream
        self._lock = threading.Lock()

    def send_messages(self, messages):
        import sys

        stream = self.stream or sys.stdout
        with self._lock:
            for message in messages:
                message.provider_id = f"console-{uuid.uuid4().hex}"
                message.status = "sent"
                stream.write(f"SMS to {message.to} from {message.sender or '-'}\n{message.body}\n")
                stream.write("-" * 60 + "\n")
            stream.flush()
        return messages


# The locmem backend's outbox, like django.core.mail.outbox; tests read and clear it.
outbox = []


class LocmemBackend(BaseBackend):
    """Keeps messages in tracking.lib.sms.outbox, for tests."""

    provider = "locmem"

    def send_messages(self, messages):
        for message in messages:
            message.provider_id = f"locmem-{uuid.uuid4().hex}"
            message.status = "sent"
            outbox.append(message)
        return messages


class FileBackend(BaseBackend):
    """Writes one JSON file per message into settings.SMS_FILE_PATH."""

    provider = "file"

    def __init__(self, path=None):
        self.path = Path(path or settings.SMS_FILE_PATH)

    def send_messages(self, messages):
        self.path.mkdir(parents=True, exist_ok=True)
        for message in messages:
            message.provider_id = f"file-{uuid.uuid4().hex}"
            message.status = "sent"
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
            target = self.path / f"{stamp}-{message.provider_id}.json"
            target.write_text(json.dumps(asdict(message), ensure_ascii=False, indent=2))
        return messages


class _BaseUrlHttpClient(TwilioHttpClient):
    """Twilio's HTTP client, sending every request to another base address (TWILIO_BASE_URL:
    a regional edge, or a local fake in tests) instead of https://api.twilio.com."""

    def __init__(self, base_url, **kwargs):
        super().__init__(**kwargs)
        self.base = urlsplit(base_url.rstrip("/"))

    def request(self, method, url, *args, **kwargs):
        if self.base.netloc:
            parts = urlsplit(url)
            path = self.base.path + parts.path
            url = urlunsplit((self.base.scheme, self.base.netloc, path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


# Twilio's errors for a number that cannot receive the message: retrying cannot help.
# 21211 invalid "To", 21214 not reachable, 21610 unsubscribed (STOP), 21612 unroutable,
# 21614 not a mobile number, 21408 region not enabled.
TWILIO_PERMANENT_CODES = {21211, 21214, 21408, 21610, 21612, 21614}


# Twilio's Smart Encoding may store typographic punctuation as its plain GSM-7 equivalent.
_PLAIN_PUNCTUATION = str.maketrans(
    {"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "‟": '"', "–": "-",
     "—": "-", "…": "...", "\u00a0": " "}
)  # fmt: skip


def _comparable(text):
    """The text as Twilio may have stored it, for comparing a sent message with ours."""
    return " ".join(unicodedata.normalize("NFC", text or "").translate(_PLAIN_PUNCTUATION).split())


class TwilioBackend(BaseBackend):
    """Sends through Twilio's Messages API with the official client, one request per message.

    Twilio has no idempotency key for messages, so a request whose answer never came (a read
    timeout, a 5xx) raises SmsError(maybe_sent=True); find_sent then asks Twilio's message list
    whether it was accepted before anyone sends it again. The client itself never retries.
    """

    provider = "twilio"
    can_find_sent = True

    def __init__(self, *, account_sid=None, auth_token=None, from_number=None, base_url=None,
                 timeout_s=None):  # fmt: skip
        self.from_number = from_number or settings.TWILIO_FROM_NUMBER
        http_client = _BaseUrlHttpClient(
            base_url if base_url is not None else settings.TWILIO_BASE_URL,
            timeout=timeout_s or settings.TWILIO_TIMEOUT_S,
        )
        self.client = Client(
            account_sid or settings.TWILIO_ACCOUNT_SID,
            auth_token or settings.TWILIO_AUTH_TOKEN,
            http_client=http_client,
            environment={},  # never read TWILIO_* from the process environment behind our back
        )

    def send_messages(self, messages):
        for message in messages:
            params = {"to": message.to, "from_": message.sender or self.from_number,
                      "body": message.body}  # fmt: skip
            if message.meta.get("status_callback"):
                params["status_callback"] = message.meta["status_callback"]
            created = self._call(self.client.messages.create, **params)
            self._fill(message, created)
        return messages

    def find_sent(self, message, *, since):
        sender = message.sender or self.from_number
        listed = self._call(self.client.messages.list, to=message.to, from_=sender, limit=50)
        text = _comparable(message.body)
        for candidate in listed:
            created_at = candidate.date_created
            if _comparable(candidate.body) == text and (created_at is None or created_at >= since):
                return self._fill(message, candidate)
        return None

    @staticmethod
    def _fill(message, resource):
        message.provider_id = resource.sid
        message.status = resource.status or "queued"
        if resource.price not in (None, ""):
            message.meta["price"] = str(resource.price)
        if resource.price_unit:
            message.meta["price_unit"] = resource.price_unit
        return message

    @staticmethod
    def _call(method, **params):
        try:
            return method(**params)
        except TwilioRestException as exc:
            code = exc.code or exc.status
            text = f"Twilio {exc.status} {exc.code or ''}: {exc.msg}".strip()
            if exc.status >= 500:
                raise SmsError(text, code=code, maybe_sent=True) from exc
            # 429 (too many requests) and 401/403 (credentials being fixed) may pass later.
            permanent = exc.code in TWILIO_PERMANENT_CODES or exc.status in (400, 404)
            raise SmsError(text, code=code, permanent=permanent) from exc
        except requests.ConnectTimeout as exc:
            # Never connected: nothing was sent.
            raise SmsError(f"Twilio: {exc}", code="connect_timeout") from exc
        except requests.Timeout as exc:
            raise SmsError(f"Twilio: {exc}", code="timeout", maybe_sent=True) from exc
        except requests.ConnectionError as exc:
            # Refused or reset: the request may have been written before the reset.
            raise SmsError(f"Twilio: {exc}", code="connection", maybe_sent=True) from exc
        except requests.RequestException as exc:
            raise SmsError(f"Twilio: {exc}", code="request", maybe_sent=True) from exc


def get_backend(path=None, **kwargs):
    """The configured backend (or the one named by path)."""
    return import_string(path or settings.SMS_BACKEND)(**kwargs)
