"""Idempotency-Key for API writes: a repeat of a request returns its first response.

Phones and integrations retry when they do not hear back; with the same key the retry does
nothing twice. The same key with a different body is refused (422).

The record of a key is written in the same transaction as the request's own writes and its
answer, so they commit together or not at all: a request that dies half-way (its process killed,
the database restarted under it) leaves no record, and its retry runs. A record written apart
from the request's work would stay "in progress" when the cleanup after a failure cannot reach the
database either, and every retry of that key would then be refused for days (the phone's queue
stuck behind it). A repeat that arrives while the first is still running waits for it on
PostgreSQL (the key's unique index) and gets its answer.
"""

import functools
import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from ninja import Status

from tracking.lib.errors import error_payload

from .models import IdempotencyKey

HEADER = "Idempotency-Key"
# Records older than this are purged; a retry after that is treated as a new request.
KEEP_FOR = timedelta(days=2)


def idempotent(caller_of, fingerprint=None):
    """Decorates a django-ninja operation that returns plain JSON data (dicts and lists) or
    ninja.Status(status, data). caller_of(request) names the caller ("api:<key id>", a device),
    so two callers' keys never collide. Without the header the call runs as usual.

    fingerprint(request) gives the bytes that tell two requests apart; the default is the raw
    body, which Django no longer gives once it parsed a multipart form: use
    multipart_fingerprint for uploads."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            key = request.headers.get(HEADER, "").strip()
            if not key:
                return view(request, *args, **kwargs)
            if len(key) > 200 or "\x00" in key:
                return _error(422, "invalid", f"{HEADER} must be at most 200 printable characters.")
            caller = caller_of(request)
            body = fingerprint(request) if fingerprint else (request.body or b"")
            digest = hashlib.sha256(
                request.method.encode() + request.path.encode() + body
            ).hexdigest()
            # One transaction for the record, the view's writes and the answer (see the module's
            # docstring): an exception anywhere rolls all of them back.
            with transaction.atomic():
                try:
                    with transaction.atomic():  # a savepoint: a repeat's key is no error here
                        record = IdempotencyKey.objects.create(
                            caller=caller,
                            key=key,
                            method=request.method,
                            path=request.path[:300],
                            request_hash=digest,
                        )
                except IntegrityError:
                    return _repeat(caller, key, digest)
                result = view(request, *args, **kwargs)
                status, body = _status_and_body(result)
                record.status_code = status
                record.response = json.loads(json.dumps(body, default=str))
                record.save(update_fields=["status_code", "response"])
            return Status(status, record.response)

        return wrapper

    return decorator


def _repeat(caller, key, digest):
    """The answer to a repeat of a key already recorded: the first answer, or 422 when the key
    came with another request."""
    record = IdempotencyKey.objects.get(caller=caller, key=key)
    if record.request_hash != digest:
        return _error(
            422, "idempotency_key_reused", f"This {HEADER} was used for a different request."
        )
    if record.status_code is None:
        # Only a record written before records were kept in their request's transaction.
        return _error(409, "request_in_progress", "The first request with this key is running.")
    return Status(record.status_code, record.response)


def multipart_fingerprint(request):
    """The form fields and the uploaded files' contents of a multipart request, as bytes that are
    equal for equal requests: ninja has parsed request.POST and request.FILES before the view
    runs, and then reading request.body raises RawPostDataException. File names are left out
    (the content is what is stored)."""
    fields = sorted((name, request.POST.getlist(name)) for name in request.POST)
    files = []
    for name in sorted(request.FILES):
        for upload in request.FILES.getlist(name):
            content = hashlib.sha256()
            for chunk in upload.chunks():
                content.update(chunk)
            upload.seek(0)
            files.append((name, content.hexdigest()))
    return json.dumps([fields, files]).encode()


def _error(status, code, message):
    return Status(status, error_payload(code, message))


def _status_and_body(result):
    if isinstance(result, Status):
        return result.status_code, result.value
    if isinstance(result, tuple):
        return result
    return 200, result


def purge_idempotency_keys():
    """Deletes records older than KEEP_FOR."""
    return IdempotencyKey.objects.filter(created_at__lt=timezone.now() - KEEP_FOR).delete()[0]
