"""The services import of a 10,000-row CSV: rows per second and peak memory, against just reading
the same file with the csv module (the baseline), all measured in the same run.

Peak memory is Python's, traced with tracemalloc (the database server's is not
counted). Tracing makes the ORM about four times slower, so the whole import is timed untraced on
all the rows and traced on TRACED_ROWS of them; the import's own reading of the file (the pass
that checks it, streamed as the row pass is) is traced on all the rows.
BENCH_IMPORT_ROWS and BENCH_IMPORT_TRACED_ROWS change the row counts. Prints the figures and
writes benchmarks/results/service_import.json.
"""

import csv
import os
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

from django.core.files import File
from django.test.utils import override_settings

from benchmarks import write_results

# On PostgreSQL the import writes about 36 rows/s (each its own savepoint, events and messages):
# 10,000 rows give the same rate as 50,000 in a quarter of an hour less.
ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "10000"))
TRACED_ROWS = int(os.environ.get("BENCH_IMPORT_TRACED_ROWS", "2000"))
CUSTOMERS = 10_000  # rows share customers, as a shop's orders do
HEADER = [
    "external_id", "order_number", "recipient", "document", "email", "phone", "street", "number",
    "district", "city", "state", "postal_code", "lat", "lng", "deadline", "weight_kg",
    "packages", "description",
]  # fmt: skip


def write_file(path, rows):
    from tracking.lib import br

    with open(path, "w", newline="", encoding="utf-8-sig") as stream:
        writer = csv.writer(stream, delimiter=";")
        writer.writerow(HEADER)
        for number in range(1, rows + 1):
            customer = number % CUSTOMERS
            writer.writerow(
                [
                    f"BENCH-{number}",
                    f"PED-{number}",
                    f"Cliente {customer}",
                    br.format_document(br.cpf_with_check_digits(f"{customer + 1:09d}")),
                    f"cliente{customer}@example.com",
                    f"(11) 9{customer:04d}-{number % 10_000:04d}",
                    "Rua Augusta",
                    str(number % 3000),
                    "Consolação",
                    "São Paulo",
                    "SP",
                    "01305-000",
                    f"{-23.55 - number % 100 / 10_000:.5f}",
                    f"{-46.65 - number % 97 / 10_000:.5f}",
                    "31/12/2030 18:00",
                    "1,250",
                    f"{number:013d}|{number:013d}-2",
                    "Deixar na portaria",
                ]
            )


def measure(function, *, traced=True):
    """(seconds, peak traced bytes or None, result) of function()."""
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        result = function()
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if traced else None
    finally:
        if traced:
            tracemalloc.stop()
    return elapsed, peak, result


def read_baseline(path):
    with open(path, newline="", encoding="utf-8-sig") as stream:
        return sum(1 for _row in csv.reader(stream, delimiter=";")) - 1


def read_as_the_import_does(path):
    from django.core.files.storage import FileSystemStorage

    from services import imports

    class Stored:
        storage = FileSystemStorage(location=path.parent)
        name = path.name

    sheet = imports._Sheet(Stored)
    sheet.sniff()
    return sum(1 for _row in sheet) - 1


def line(label, rate, peak, base_rate, base_peak, note=""):
    """One result: rows per second and peak memory, each also as a ratio to the baseline's."""
    memory = f"peak {peak / 1024 / 1024:6.1f} MB ({peak / base_peak:5.1f}x)" if peak else ""
    print(f"import: {label:<28} {rate:9.0f} rows/s ({rate / base_rate:.4f}x)  {memory:<26}  {note}")
    return {"rows_per_s": rate, "ratio": rate / base_rate, "peak_bytes": peak}


def run():
    from accounts.models import Account, ImportJob, Role, User
    from services import imports

    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        path = folder / "services.csv"
        write_file(path, ROWS)
        traced_path = folder / "traced.csv"
        write_file(traced_path, min(TRACED_ROWS, ROWS))
        size_mb = path.stat().st_size / 1024 / 1024

        seconds, base_peak, counted = measure(lambda: read_baseline(path))
        assert counted == ROWS, counted
        base_rate = ROWS / seconds
        note = f"({ROWS} rows, {size_mb:.1f} MB file)"
        results = {"rows": ROWS, "traced_rows": min(TRACED_ROWS, ROWS), "file_mb": size_mb}
        results["baseline"] = line(
            "baseline: csv.reader", base_rate, base_peak, base_rate, base_peak, note
        )
        seconds, peak, counted = measure(lambda: read_as_the_import_does(path))
        assert counted == ROWS, counted
        results["reading"] = line(
            "the import reading the file", ROWS / seconds, peak, base_rate, base_peak
        )

        # DEBUG off, as on a worker: with it on, Django keeps the last 9,000 queries' SQL.
        with override_settings(MEDIA_ROOT=str(folder / "media"), DEBUG=False):
            for label, source, rows, traced in [
                ("whole import", path, ROWS, False),
                ("whole import, traced", traced_path, min(TRACED_ROWS, ROWS), True),
            ]:
                account = Account.objects.create(name=label, slug=f"bench-{rows}-{traced:d}")
                user = User.objects.create_user(
                    f"{account.slug}@example.com", account=account, role=Role.MANAGER
                )

                def import_file(source=source, user=user):
                    with open(source, "rb") as stream:
                        return imports.import_job_create(
                            user=user, uploaded_file=File(stream, name="services.csv")
                        )

                seconds, peak, job = measure(import_file, traced=traced)
                job = ImportJob.objects.get(pk=job.pk)
                assert job.status == "done", (job.status, job.error, job.report["rejected"][:3])
                assert job.created_count == rows, (job.created_count, job.report["rejected"][:3])
                note = f"({rows} rows in {seconds:.0f} s)"
                results[label] = line(label, rows / seconds, peak, base_rate, base_peak, note)
        write_results("service_import", results)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
