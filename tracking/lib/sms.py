"""SMS backends, shaped like Django's e-mail backends and chosen by settings.SMS_BACKEND."""

import abc
import json
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


@dataclass
class SmsMessage:
    to: str
    body: str
    sender: str = ""
    # Filled in by the backend that sent it.
    provider_id: str = ""
    status: str = ""
    meta: dict = field(default_factory=dict)


class BaseBackend(abc.ABC):
    """Sends messages; returns them with provider_id and status filled in."""

    @abc.abstractmethod
    def send_messages(self, messages):
        """Sends each message and returns the list, each with provider_id and status set."""

    def send(self, message):
        return self.send_messages([message])[0]


class ConsoleBackend(BaseBackend):
    """Prints each message; the default, so a fresh install sends nothing anywhere."""

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

    def send_messages(self, messages):
        for message in messages:
            message.provider_id = f"locmem-{uuid.uuid4().hex}"
            message.status = "sent"
            outbox.append(message)
        return messages


class FileBackend(BaseBackend):
    """Writes one JSON file per message into settings.SMS_FILE_PATH."""

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


def get_backend(path=None, **kwargs):
    """The configured backend (or the one named by path)."""
    return import_string(path or settings.SMS_BACKEND)(**kwargs)
