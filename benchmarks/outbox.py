"""The message outbox drained by real Celery workers to local fake providers: MESSAGES queued
messages (half SMS through Twilio's client, half e-mail through Anymail's Postmark backend)
against the same provider calls made directly in a loop (goal: at least 0.5 of the loop's
messages per second; no message sent twice, none lost).

The rows are written in bulk, like those lastmile.outbox writes (one SMS and one e-mail for each
of MESSAGES / 2 services, distinct numbers, addresses and texts, status queued), and one send task
(lastmile.tasks.send_message, the task the outbox enqueues after commit) per row is put on a queue
of the benchmark's own. The providers are the test suite's fakes (tests/lastmile/fakes.py:
FakeTwilio answering Twilio's Messages API, FakePostmark answering Postmark's e-mail API), each a
threaded HTTP server in this process, counting what it receives. One `celery -A tracking worker
--concurrency 2` (prefork: two worker processes, as `make worker` runs on two cores) is started
as production runs it (DEBUG off, the benchmark's database, Redis as broker; SMS_BACKEND=Twilio
and EMAIL_BACKEND=Anymail's Postmark pointed at the fakes) and listens to another queue until
everything is queued (and each of its processes has run a few tasks for no row: code loaded,
database connection open); then it is told to consume the benchmark's queue (`add_consumer`),
and the clock runs from that order to the last row's sent_at. Messages per second = rows sent /
that time. The CPU time of the worker's processes, their PostgreSQL backends and this process
(the fakes) is read from /proc meanwhile, per message.

The baseline is a separate process (`python -m benchmarks.outbox direct ...`, the same settings)
that reads the same rows, then calls the providers in a loop exactly as lastmile.sending does
(TwilioBackend.send with the same status callback; EmailMultiAlternatives with the same
headers, metadata and tags through one Anymail connection), one message after the other, to
fresh fakes.

At the end every row must be `sent` with its provider's id, and each fake must have received
each message once (counted by text: SMS body; e-mail subject and text): duplicates = messages
received more than once, lost = rows not sent or texts never received.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/benchoutbox \
    REDIS_URL=redis://127.0.0.1:6379/11 python -m benchmarks outbox
Needs PostgreSQL and Redis (skipped without). BENCH_OUTBOX_MESSAGES (default 10,000),
BENCH_OUTBOX_CONCURRENCY (default 2), BENCH_OUTBOX_POOL (prefork, or solo: that many `--pool
solo` workers) and BENCH_OUTBOX_PROVIDER_MS (how long the fakes take to answer; default 0, so
the figure is the outbox's own cost) change the run; BENCH_PROFILE=1 samples the workers with
py-spy (benchmarks/results/outbox-profile.folded).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from benchmarks import write_results

MESSAGES = int(os.environ.get("BENCH_OUTBOX_MESSAGES", "10000"))
CONCURRENCY = int(os.environ.get("BENCH_OUTBOX_CONCURRENCY", "2"))
POOL = os.environ.get("BENCH_OUTBOX_POOL", "prefork")
# How long the fake providers take to answer (a real one over the internet: tens to hundreds of ms).
PROVIDER_S = float(os.environ.get("BENCH_OUTBOX_PROVIDER_MS", "0")) / 1000
GOAL_RATIO = 0.5
# Everything must be sent within this (a bound, not an expectation).
TIMEOUT_S = 240
ROOT = Path(__file__).resolve().parent.parent


# The rows -------------------------------------------------------------------------------------


def _setup():
    """MESSAGES queued outbox rows, half SMS and half e-mail; returns the account."""
    from accounts.models import Account, Agency, Branch, Customer, Trigger
    from lastmile.models import Channel, OutboxMessage
    from services.models import Service

    account = Account.objects.create(name="Bench outbox", slug="bench-outbox", language="en")
    agency = Agency.objects.create(account=account, name="Acme Express")
    branch = Branch.objects.create(account=account, name="Centro", city="São Paulo", state="SP")
    services_count = MESSAGES // 2
    customers = Customer.objects.bulk_create(
        Customer(
            account=account,
            name=f"Cliente {n}",
            phone=f"+551199{n:07d}",
            email=f"cliente{n}@example.com",
            city="São Paulo",
            state="SP",
        )
        for n in range(services_count)
    )
    services = Service.objects.bulk_create(
        (
            Service(
                account=account,
                customer=customer,
                agency=agency,
                branch=branch,
                order_number=f"PED-{n:05d}",
                city="São Paulo",
                state="SP",
            )
            for n, customer in enumerate(customers)
        ),
        batch_size=2000,
    )
    rows = []
    for n, (service, customer) in enumerate(zip(services, customers, strict=True)):
        link = f"https://tracking.example.com/t/{service.tracking_token}"
        text = f"Acme Express: your order PED-{n:05d} was delivered. Thank you! Rate us: {link}"
        common = {"account": account, "service": service, "trigger": Trigger.DELIVERED,
                  "language": "en"}  # fmt: skip
        rows.append(OutboxMessage(channel=Channel.SMS, to=customer.phone, body=text, **common))
        rows.append(
            OutboxMessage(
                channel=Channel.EMAIL,
                to=customer.email,
                subject=f"Your order PED-{n:05d} was delivered",
                body=f"Hi {customer.name},\n\n{text}\n",
                html=f"<p>Hi {customer.name},</p><p>{text}</p>",
                **common,
            )
        )
    OutboxMessage.objects.bulk_create(rows, batch_size=2000)
    return account


def _worker_env(twilio, postmark):
    """The environment of a process that sends through the fakes, as production configures the
    real providers."""
    from benchmarks import _server
    from tests.lastmile import fakes

    return _server.production_env(
        SMS_BACKEND="tracking.lib.sms.TwilioBackend",
        TWILIO_ACCOUNT_SID=fakes.TWILIO_SID,
        TWILIO_AUTH_TOKEN=fakes.TWILIO_TOKEN,
        TWILIO_FROM_NUMBER=fakes.TWILIO_FROM,
        TWILIO_BASE_URL=twilio.url,
        EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
        POSTMARK_SERVER_TOKEN=fakes.POSTMARK_TOKEN,
        POSTMARK_API_URL=postmark.url + "/",
    )


# The baseline: the providers called directly ---------------------------------------------------


def _direct(out_path, account_id):
    """In the baseline's process: the rows read, then each sent as lastmile.sending sends it,
    one after the other; writes {"seconds", "sent"}."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracking.settings")
    django.setup()
    from email.utils import make_msgid

    from django.conf import settings
    from django.core import mail
    from django.urls import reverse

    from lastmile.models import Channel, OutboxMessage
    from tracking.lib import sms

    messages = list(
        OutboxMessage.objects.filter(account_id=account_id)
        .order_by("pk")
        .values_list("pk", "channel", "to", "subject", "body", "html", "trigger")
    )
    backend = sms.get_backend()
    connection = mail.get_connection()
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].rstrip(">") or None
    began, cpu_began = time.perf_counter(), time.process_time()
    with connection:
        for pk, channel, to, subject, body, html, trigger in messages:
            if channel == Channel.SMS:
                callback = reverse("lastmile_hooks:twilio_status", args=[pk])
                meta = {"status_callback": f"{settings.SITE_URL}{callback}"}
                sent = backend.send(sms.SmsMessage(to=to, body=body, meta=meta))
                assert sent.provider_id
            else:
                email = mail.EmailMultiAlternatives(
                    subject=subject,
                    body=body,
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    to=[to],
                    headers={"Message-ID": make_msgid(idstring=f"outbox{pk}", domain=domain)},
                    connection=connection,
                )
                if html:
                    email.attach_alternative(html, "text/html")
                email.metadata = {"outbox_id": str(pk)}
                email.tags = [trigger]
                email.send()
                assert email.anymail_status.message_id
    seconds, cpu_s = time.perf_counter() - began, time.process_time() - cpu_began
    Path(out_path).write_text(
        json.dumps({"seconds": seconds, "cpu_s": cpu_s, "sent": len(messages)})
    )


def _baseline(folder, account):
    """The direct loop's figures: {"seconds", "messages_per_s", "cpu_s": {"client", "fakes"}}."""
    from benchmarks import _server
    from tests.lastmile import fakes

    out_path = Path(folder) / "direct.json"
    with fakes.FakeTwilio() as twilio, fakes.FakePostmark() as postmark:
        twilio.delay_s = postmark.delay_s = PROVIDER_S
        meter = _server.CpuMeter({"fakes": lambda: [os.getpid()]})
        meter.start()
        subprocess.run(
            [sys.executable, "-m", "benchmarks.outbox", "direct", str(out_path), str(account.pk)],
            cwd=ROOT,
            env=_worker_env(twilio, postmark),
            check=True,
            timeout=TIMEOUT_S + 60,
        )
        cpu = meter.stop()["cpu_s"]
        received = len(twilio.messages) + len(postmark.messages)
    figures = json.loads(out_path.read_text())
    assert figures["sent"] == received == MESSAGES, (figures, received)
    return {
        "seconds": round(figures["seconds"], 2),
        "messages_per_s": round(figures["sent"] / figures["seconds"], 1),
        "cpu_s": {"client": round(figures["cpu_s"], 2), "fakes": cpu["fakes"]},
    }


# The outbox: real workers ---------------------------------------------------------------------


class _Workers:
    """Celery workers on an idle queue, stopped by their PIDs (warm shutdown): one `celery -A
    tracking worker --concurrency CONCURRENCY` (POOL prefork, as production runs it), or
    CONCURRENCY `--pool solo` workers."""

    def __init__(self, env, folder):
        self.env, self.folder = env, Path(folder)
        self.idle_queue = f"bench-idle-{uuid.uuid4().hex[:8]}"
        self.processes, self.hostnames, self._logs = [], [], []

    @property
    def pids(self):
        return [process.pid for process in self.processes]

    def __enter__(self):
        from tracking.celery import app

        count, pool = (1, ["--concurrency", str(CONCURRENCY)]) if POOL == "prefork" else (
            CONCURRENCY, ["--pool", "solo"])  # fmt: skip
        try:
            for number in range(count):
                hostname = f"bench-outbox-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
                log = open(self.folder / f"worker-{number}.log", "w")
                self._logs.append(log)
                self.processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "celery",
                            "-A",
                            "tracking",
                            "worker",
                            *pool,
                            "--queues",
                            self.idle_queue,
                            "--hostname",
                            hostname,
                            "--loglevel",
                            "WARNING",
                            "--without-gossip",
                            "--without-mingle",
                            "--without-heartbeat",
                        ],
                        cwd=ROOT,
                        env=self.env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
                self.hostnames.append(hostname)
            deadline = time.monotonic() + 60
            while len(app.control.ping(destination=self.hostnames, timeout=0.5)) < count:
                if any(p.poll() is not None for p in self.processes) or time.monotonic() > deadline:
                    raise RuntimeError(f"the workers did not start:\n{self.log()}")
        except BaseException:
            self.__exit__()
            raise
        return self

    def log(self):
        for log in self._logs:
            log.flush()
        return "\n".join(
            path.read_text()[-3000:] for path in sorted(self.folder.glob("worker-*.log"))
        )

    def __exit__(self, *exc):
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for log in self._logs:
            log.close()


def _enqueue(queue, account):
    """One send task per queued row on `queue` (the broker, not eager), as the outbox does."""
    from django.test.utils import override_settings

    from lastmile.models import OutboxMessage
    from lastmile.tasks import send_message

    rows = OutboxMessage.objects.filter(account=account)
    ids = list(rows.order_by("pk").values_list("pk", flat=True))
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
        for message_id in ids:
            send_message.apply_async((message_id,), queue=queue)
    return len(ids)


def _warm_up(workers):
    """A few tasks for no row on the workers' own queue, so that each of their processes has
    loaded the code and opened its database connection before the clock runs."""
    from django.test.utils import override_settings

    from lastmile.tasks import send_message

    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
        for _ in range(4 * CONCURRENCY):
            send_message.apply_async((0,), queue=workers.idle_queue)
    deadline = time.monotonic() + 60
    while _queue_length(workers.idle_queue) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)


def _queue_length(queue):
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.REDIS_URL).llen(queue)


def _drain(queue, folder, twilio, postmark, account):
    """Starts the worker, queues every row's task, lets the worker consume them: (seconds from
    the order to consume to the last row sent, the CPU used meanwhile)."""
    from django.db.models import Max
    from django.utils import timezone

    from benchmarks import _server
    from lastmile.models import MessageStatus, OutboxMessage
    from tracking.celery import app

    env = _worker_env(twilio, postmark)
    with _Workers(env, folder) as workers:
        try:
            _warm_up(workers)
            queued = _enqueue(queue, account)
            assert _queue_length(queue) == queued, (_queue_length(queue), queued)
            meter = _server.CpuMeter({
                "workers": lambda: [
                    pid for worker in workers.pids for pid in [worker, *_server.children(worker)]
                ],
                "postgres": _server.postgres_backends(),
                "fakes": lambda: [os.getpid()],
            })  # fmt: skip
            meter.start()
            began = timezone.now()
            with _server.Profile(workers.pids[0], "outbox-profile", seconds=20):
                app.control.add_consumer(queue, destination=workers.hostnames, reply=True)
                deadline = time.monotonic() + TIMEOUT_S
                while time.monotonic() < deadline:
                    unsent = OutboxMessage.objects.filter(
                        account=account, status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]
                    ).count()
                    if not unsent:
                        break
                    time.sleep(0.5)
            cpu = meter.stop()
            time.sleep(1)  # a second send would show now
            rows = OutboxMessage.objects.filter(account=account)
            last = rows.aggregate(last=Max("sent_at"))["last"]
            if unsent:
                print(workers.log())
        finally:
            _server.drop_queues(queue, workers.idle_queue)
    return (last - began).total_seconds() if last else float(TIMEOUT_S), cpu


def _received(fake, key):
    """(received, distinct, duplicates): how many requests the fake recorded and how many
    distinct texts, and the texts received more than once."""
    counts = Counter(key(message) for message in fake.messages)
    return len(fake.messages), set(counts), sum(n - 1 for n in counts.values() if n > 1)


def run():
    from django.db.models import Count

    from benchmarks import _server
    from lastmile.models import Channel, MessageStatus, OutboxMessage
    from tests.lastmile import fakes

    reason = _server.unavailable()
    if reason:
        print(f"outbox: {reason}; skipped")
        return None
    started = time.perf_counter()
    account = _setup()
    print(f"outbox: {MESSAGES:,} messages queued in {time.perf_counter() - started:.0f} s; "
          f"workers: {POOL} pool, {CONCURRENCY} processes")  # fmt: skip

    with tempfile.TemporaryDirectory() as folder:
        direct = _baseline(folder, account)
        direct_per_s = direct["messages_per_s"]
        print(f"  direct loop: {direct_per_s:8.0f} messages/s ({MESSAGES:,} in "
              f"{direct['seconds']:.1f} s); CPU per message: client "
              f"{direct['cpu_s']['client'] * 1000 / MESSAGES:.1f} ms, fakes "
              f"{direct['cpu_s']['fakes'] * 1000 / MESSAGES:.1f} ms")  # fmt: skip
        queue = f"bench-outbox-{uuid.uuid4().hex[:8]}"
        with fakes.FakeTwilio() as twilio, fakes.FakePostmark() as postmark:
            twilio.delay_s = postmark.delay_s = PROVIDER_S
            seconds, cpu = _drain(queue, folder, twilio, postmark, account)
            sms_received, sms_texts, sms_twice = _received(twilio, lambda m: m["body"])
            mail_received, mail_texts, mail_twice = _received(
                postmark, lambda m: (m["Subject"], m["TextBody"])
            )
    rows = OutboxMessage.objects.filter(account=account)
    statuses = dict(rows.values_list("status").annotate(n=Count("pk")).order_by())
    sent_rows = rows.filter(status=MessageStatus.SENT).exclude(provider_id="")
    expected_sms = set(rows.filter(channel=Channel.SMS).values_list("body", flat=True))
    expected_mail = set(rows.filter(channel=Channel.EMAIL).values_list("subject", "body"))
    lost = (
        (MESSAGES - sent_rows.count())
        + len(expected_sms - sms_texts)
        + len(expected_mail - mail_texts)
    )
    duplicates = sms_twice + mail_twice
    # The provider ids recorded are the fakes' own, one row each.
    sids = {message["sid"] for message in twilio.messages}
    recorded = set(sent_rows.filter(channel=Channel.SMS).values_list("provider_id", flat=True))
    mismatched = len(recorded ^ sids)

    per_s = MESSAGES / seconds
    ratio = per_s / direct_per_s
    met = ratio >= GOAL_RATIO and duplicates == 0 and lost == 0 and mismatched == 0
    results = {
        "messages": MESSAGES,
        "concurrency": CONCURRENCY,
        "pool": POOL,
        "provider_ms": PROVIDER_S * 1000,
        "seconds": round(seconds, 2),
        "messages_per_s": round(per_s, 1),
        "direct": direct,
        "ratio": round(ratio, 3),
        "statuses": statuses,
        "received": {"sms": sms_received, "email": mail_received},
        "duplicates": duplicates,
        "lost": lost,
        "provider_ids_mismatched": mismatched,
        "cpu": cpu,
        "cpu_ms_per_message": {
            name: round(value * 1000 / MESSAGES, 2)
            for name, value in cpu["cpu_s"].items()
            if name != "machine"
        },
        "goal": f">= {GOAL_RATIO:g} x the direct loop's messages/s; 0 duplicates, 0 lost",
        "met": met,
    }
    per_message = results["cpu_ms_per_message"]
    print(
        f"  outbox:      {per_s:8.0f} messages/s ({MESSAGES:,} in {seconds:.1f} s); CPU per "
        f"message: workers {per_message['workers']:.1f} ms, PostgreSQL "
        f"{per_message['postgres']:.1f} ms, fakes {per_message['fakes']:.1f} ms; the machine "
        f"was busy {cpu['cpu_s']['machine']:.0f} of {cpu['cores'] * cpu['wall_s']:.0f} CPU seconds"
    )
    print(f"  ratio {ratio:.2f} (goal >= {GOAL_RATIO:g}); received {sms_received:,} SMS and "
          f"{mail_received:,} e-mails; duplicates {duplicates}, lost {lost}, provider ids "
          f"mismatched {mismatched}; rows {statuses}: {'met' if met else 'NOT met'} "
          f"({time.perf_counter() - started:.0f} s in all)")  # fmt: skip
    write_results("outbox", results)
    return results


if __name__ == "__main__" and sys.argv[1:2] == ["direct"]:
    _direct(sys.argv[2], int(sys.argv[3]))
