"""The panels lastmile adds to the service page (services.panels): the messages sent to the
customer and the customer's rating. The service was loaded and scope-checked by the page."""

from services.models import ServiceStatus

from .models import MessageStatus, Rating

STATUS_BADGES = {
    MessageStatus.QUEUED: "text-bg-secondary",
    MessageStatus.SENDING: "text-bg-info",
    MessageStatus.SENT: "text-bg-primary",
    MessageStatus.DELIVERED: "text-bg-success",
    MessageStatus.FAILED: "text-bg-danger",
    MessageStatus.BOUNCED: "text-bg-warning",
}


def messages_panel(request, service):
    """Every message written for the service, oldest first, with its delivery status."""
    messages = [
        (message, STATUS_BADGES.get(message.status, "text-bg-secondary"))
        for message in service.messages.order_by("created_at", "pk")
    ]
    return "lastmile/panels/messages.html", {"messages": messages}


def rating_panel(request, service):
    """The customer's stars and comment; shown once the service is done, rated or not."""
    rating = Rating.objects.filter(service=service).first()
    if rating is None and service.status != ServiceStatus.DONE:
        return None
    stars = rating.stars if rating is not None else 0
    return "lastmile/panels/rating.html", {
        "rating": rating,
        "stars": [index < stars for index in range(5)],
    }
