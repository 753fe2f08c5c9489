"""The check every status machine shares: is a move in its table, or a Conflict naming both ends."""

from .errors import Conflict


def require_transition(transitions, choices, from_status, to_status, message):
    """Raises Conflict (code invalid_transition) unless to_status is in transitions[from_status].
    message is a translated text with %(from)s and %(to)s, filled with the statuses' labels."""
    if to_status in transitions[from_status]:
        return
    raise Conflict(
        message
        % {"from": choices(from_status).label.lower(), "to": choices(to_status).label.lower()},
        code="invalid_transition",
    )
