"""The dashboard's navigation, built from what the user's role may see."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from . import access

# (section, label, URL name). A section whose URL does not exist yet is shown disabled.
NAVIGATION = [
    (access.SERVICES, _("Services"), "services:index"),
    (access.ROUTES, _("Routes"), "routes:index"),
    (access.TRACKING, _("Tracking"), "routes:tracking"),
    (access.SCHEDULE, _("Schedule"), "scheduling:index"),
    (access.REPORTS, _("Reports"), "reports:index"),
    (access.CHAT, _("Chat"), "routes:chat"),
    (access.SETTINGS, _("Settings"), "admin:index"),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    items = []
    for section, label, url_name in NAVIGATION:
        if not access.can_see_section(user, section):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            url = None
        items.append({"section": section, "label": label, "url": url, "active": False})
    # The section whose URL is the longest prefix of the path (/routes/chat/ is Chat, not Routes).
    matches = [item for item in items if item["url"] and request.path.startswith(item["url"])]
    if matches:
        max(matches, key=lambda item: len(item["url"]))["active"] = True
    return {"navigation": items, "current_account": user.account}
