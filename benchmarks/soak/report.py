"""What a soak run shows: requests and errors by phase, percentiles, and the invariants (nothing
lost, nothing sent twice, no error outside a fault's window), from the load generator's record,
the fault timeline, the database's tally and the providers' log. Pure functions of those.
"""

import itertools
import math

# After PostgreSQL answers again, requests may still fail for this long (a connection that died
# with the restart is found out by the request that next uses it) and still count as the fault's.
RECONNECT_GRACE_S = 5
# Requests that arrive just after Redis is back are shown as their own phase for this long.
RECOVERY_PHASE_S = 60
FINAL = {"sent", "delivered", "failed", "bounced"}


def percentile(values, share):
    """Nearest-rank percentile of values (share in 0-1); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000, 1)


def phases(timeline, start_at, end_at):
    """[(name, begin, end)] of the run's phases, in time order; the rest of the run is "steady"."""
    spans = []
    pg = timeline.get("postgres_restart")
    if pg:
        spans.append(("postgres restart", pg["begin"], pg["ready"] + RECONNECT_GRACE_S))
    kills = [timeline.get(name) for name in ("pool_killed", "worker_killed")]
    kills = [kill for kill in kills if kill]
    if kills:
        end = max(kill.get("restarted", kill["at"]) for kill in kills) + 10
        spans.append(("worker killed", min(kill["at"] for kill in kills), end))
    redis_down = timeline.get("redis_down")
    if redis_down:
        spans.append(("redis down", redis_down["begin"], redis_down["end"]))
        spans.append(("redis back", redis_down["end"], redis_down["end"] + RECOVERY_PHASE_S))
    spans.sort(key=lambda span: span[1])
    return spans


def phase_of(moment, spans):
    for name, begin, end in spans:
        if begin <= moment < end:
            return name
    return "steady"


def fault_windows(timeline):
    """The windows in which a request may fail: PostgreSQL's restart (and its grace)."""
    pg = timeline.get("postgres_restart")
    return [(pg["begin"], pg["ready"] + RECONNECT_GRACE_S)] if pg else []


def request_stats(rows, timeline, start_at, end_at):
    """Requests, errors and latency by phase (of their answer) and by kind, the errors outside
    the fault windows, and how PostgreSQL's restart looked from outside (reconnect time)."""
    spans = phases(timeline, start_at, end_at)
    windows = fault_windows(timeline)
    by_phase, by_kind = {}, {}
    outside = []
    for started, duration, kind, outcome in rows:
        # A request belongs to the phase in which it was answered: under load it may have waited
        # for a web worker since before the phase began.
        phase = phase_of(started + duration, spans)
        for table, key in ((by_phase, phase), (by_kind, kind)):
            entry = table.setdefault(key, {"requests": 0, "errors": {}, "durations": []})
            entry["requests"] += 1
            entry["durations"].append(duration)
            if outcome != "ok":
                entry["errors"][outcome] = entry["errors"].get(outcome, 0) + 1
        if outcome != "ok" and not any(
            started <= end and started + duration >= begin for begin, end in windows
        ):
            outside.append({"at": round(started - start_at, 1), "kind": kind, "outcome": outcome})

    def summary(entry):
        durations = entry.pop("durations")
        entry["error_count"] = sum(entry["errors"].values())
        entry["p50_ms"] = _ms(percentile(durations, 0.5))
        entry["p99_ms"] = _ms(percentile(durations, 0.99))
        entry["max_ms"] = _ms(max(durations) if durations else None)
        return entry

    order = [name for name, _b, _e in spans]
    all_durations = [duration for _s, duration, _k, _o in rows]
    ok_durations = [duration for _s, duration, _k, outcome in rows if outcome == "ok"]
    return {
        "requests": len(rows),
        "errors": sum(1 for row in rows if row[3] != "ok"),
        "p50_ms": _ms(percentile(all_durations, 0.5)),
        "p99_ms": _ms(percentile(all_durations, 0.99)),
        "p99_ok_ms": _ms(percentile(ok_durations, 0.99)),
        "by_phase": {
            name: summary(by_phase[name]) for name in ["steady", *order] if name in by_phase
        },
        "by_kind": {name: summary(entry) for name, entry in sorted(by_kind.items())},
        "errors_outside_fault_windows": outside,
        "postgres_reconnect": _reconnect(rows, timeline.get("postgres_restart")),
    }


def _reconnect(rows, pg):
    """How PostgreSQL's restart looked from outside, by when the answers came (a request may
    have waited for a web worker since before the restart): how many failed, when the last
    failure and the first success after PostgreSQL was back were answered, in seconds after it
    was back (a negative last failure: none was answered after it)."""
    if not pg:
        return None
    ready = pg["ready"]
    windows = fault_windows({"postgres_restart": pg})
    failures = [
        s + d
        for s, d, _k, outcome in rows
        if outcome != "ok" and any(s <= end and s + d >= begin for begin, end in windows)
    ]
    first_ok = min(
        (s + d for s, d, _k, outcome in rows if outcome == "ok" and s + d >= ready), default=None
    )
    return {
        "restart_s": round(ready - pg["begin"], 2),
        "failed_requests": len(failures),
        "last_failure_after_ready_s": round(max(failures) - ready, 2) if failures else None,
        "first_success_after_ready_s": round(first_ok - ready, 2) if first_ok else None,
    }


def message_stats(messages, received, callbacks):
    """Per outbox row, how many times the providers received it: duplicates, lost ones (never
    received), strays (received, not ours), rows not settled; statuses by channel."""
    counts = {}
    strays = 0
    for item in received:
        key = (item["channel"], item["outbox_id"])
        if item["outbox_id"] is None:
            strays += 1
        counts[key] = counts.get(key, 0) + 1
    ids = {(row["channel"], row["id"]) for row in messages}
    strays += sum(count for key, count in counts.items() if key not in ids and key[1] is not None)
    statuses = {}
    duplicates, lost, unsettled, failed_but_received = [], [], [], []
    for row in messages:
        times = counts.get((row["channel"], row["id"]), 0)
        by_channel = statuses.setdefault(row["channel"], {})
        by_channel[row["status"]] = by_channel.get(row["status"], 0) + 1
        if times > 1:
            duplicates.append({"id": row["id"], "channel": row["channel"], "received": times})
        if times == 0:
            lost.append(
                {
                    "id": row["id"],
                    "channel": row["channel"],
                    "status": row["status"],
                    "error": row["error"],
                }
            )
        if row["status"] not in FINAL:
            unsettled.append({"id": row["id"], "status": row["status"]})
        if times == 1 and row["status"] == "failed":
            failed_but_received.append(row["id"])
    return {
        "queued": len(messages),
        "received": len(received),
        "sent_once": sum(1 for row in messages if counts.get((row["channel"], row["id"])) == 1),
        "duplicates": duplicates,
        "lost": lost,
        "strays": strays,
        "unsettled": unsettled,
        "recorded_failed_but_received_once": failed_but_received,
        "statuses": statuses,
        "by_trigger": _count(messages, "trigger"),
        "callbacks": callbacks,
    }


def _count(rows, key):
    counted = {}
    for row in rows:
        counted[row[key]] = counted.get(row[key], 0) + 1
    return dict(sorted(counted.items()))


def invariants(result):
    """[(name, held, detail)] of what the soak promises."""
    requests, positions, messages = result["requests"], result["positions"], result["messages"]
    timeline, tally = result["timeline"], result["tally"]
    checks = [
        (
            "no error outside the fault windows",
            not requests["errors_outside_fault_windows"],
            f"{len(requests['errors_outside_fault_windows'])} outside",
        ),
        (
            "positions in = positions stored",
            positions["made"] == positions["stored"] == positions["accepted"]
            and positions["unsent"] == 0,
            f"made {positions['made']}, accepted {positions['accepted']}, stored "
            f"{positions['stored']}, left on phones {positions['unsent']}",
        ),
        (
            "every message received exactly once",
            not messages["duplicates"] and not messages["lost"] and not messages["strays"],
            f"{messages['queued']} queued, {messages['sent_once']} once, "
            f"{len(messages['duplicates'])} twice or more, {len(messages['lost'])} never, "
            f"{messages['strays']} strays",
        ),
        (
            "every message settled",
            not messages["unsettled"],
            f"{len(messages['unsettled'])} still queued or sending",
        ),
        (
            "every service event dispatched",
            tally["events_undispatched"] == 0,
            f"{tally['events_undispatched']} undispatched",
        ),
        (
            "every driver step went through",
            result["steps"]["left"] == 0,
            f"{result['steps']['done']} done, {result['steps']['left']} left",
        ),
    ]
    redis_down = timeline.get("redis_down")
    if redis_down:
        outage = redis_down.get("messages_written", 0)
        checks.append(
            (
                "messages written while Redis was down went out after",
                outage > 0 and redis_down.get("outbox_caught_up_s") is not None,
                f"{outage} written, all sent {redis_down.get('outbox_caught_up_s')} s after",
            )
        )
        checks.append(
            (
                "ETAs refreshed after Redis came back",
                redis_down.get("eta_caught_up_s") is not None,
                f"every route in {redis_down.get('eta_caught_up_s')} s",
            )
        )
    for name in ("pool_killed", "worker_killed"):
        kill = timeline.get(name)
        if kill:
            checks.append(
                (
                    f"{name.replace('_', ' ')} in the middle of sends",
                    bool(kill["sending"]),
                    f"{len(kill['sending'])} messages were being sent",
                )
            )
    pg = requests.get("postgres_reconnect")
    if pg:
        pg_window = timeline["postgres_restart"]
        restarted = [
            restart["process"]
            for restart in result.get("restarts", [])
            if pg_window["begin"] - 1 <= restart["at"] <= pg_window["ready"] + 60
        ]
        checks.append(
            (
                "nothing restarted because PostgreSQL did",
                not restarted,
                f"restarted: {', '.join(restarted)}" if restarted else "no process restarted",
            )
        )
        checks.append(
            (
                "the app reconnected to PostgreSQL by itself",
                pg["first_success_after_ready_s"] is not None,
                f"first success {pg['first_success_after_ready_s']} s after it was back",
            )
        )
    return checks


def cpu_by_phase(series, timeline, start_at, end_at):
    """The cores the soak's processes and every other process used, on average, in each phase
    (from the CPU sampler's series; an interval counts for the phase of its middle)."""
    spans = phases(timeline, start_at, end_at)
    totals = {}
    for (t0, busy0, ours0), (t1, busy1, ours1) in itertools.pairwise(series):
        phase = phase_of((t0 + t1) / 2, spans)
        entry = totals.setdefault(phase, [0.0, 0.0, 0.0])
        entry[0] += t1 - t0
        entry[1] += ours1 - ours0
        entry[2] += max(0.0, (busy1 - busy0) - (ours1 - ours0))
    return {
        phase: {"soak_cores": round(ours / span, 2), "other_cores": round(others / span, 2)}
        for phase, (span, ours, others) in totals.items()
        if span > 0
    }
