"""The tag language of notification templates: `{{tag}}` placeholders, checked, rendered, measured.

Deliberately not Django's template language: an operator's text must never run template logic, so
the only thing a template can do is name a tag from TAGS, which is replaced by its value.
"""

import math
import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

# `{{name}}`, with spaces allowed inside the braces. Anything between a pair of double braces is
# taken as a tag name, so `{{ name|upper }}` is an unknown tag, not a filter.
TAG_PATTERN = re.compile(r"\{\{([^{}]*)\}\}")

# An <img> whose address is empty once rendered (the agency has no logo): mail clients draw a
# broken-image box for it, so it is replaced by its alt text, in the image's own style.
_IMAGE_WITHOUT_SOURCE = re.compile(
    r"""<img\b(?=[^>]*\bsrc\s*=\s*(["'])\s*\1)[^>]*>""", re.IGNORECASE
)
_ATTRIBUTE = re.compile(r"""\b(alt|style)\s*=\s*(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)

SAMPLE_DAY = date(2025, 3, 14)

# tag -> (what it is, a sample value shown in previews). Dates are formatted in the active language.
TAGS = {
    "customer_first_name": (_("The customer's first name"), "Maria"),
    "customer_name": (_("The customer's full name"), "Maria Silva"),
    "order_number": (_("The order number"), "PED-10422"),
    "invoice_number": (_("The invoice number"), "NF 004512"),
    "delivery_day": (_("The scheduled delivery day"), SAMPLE_DAY),
    "delivery_window": (_("The scheduled delivery window"), "13:00-18:00"),
    "eta_window": (_("The estimated arrival window"), "14:00-16:00"),
    "period": (_("The scheduled period (morning, afternoon, night)"), _("afternoon")),
    "driver_name": (_("The driver's first name"), "Carlos"),
    "vehicle_plate": (_("The vehicle's plate"), "ABC1D23"),
    "tracking_link": (
        _("The link to the delivery's Last Mile page"),
        "https://lmt.example/t/8fK2pQ",
    ),
    "failure_reason": (_("Why the delivery failed"), _("Nobody at the address")),
    "deadline": (_("The delivery deadline"), SAMPLE_DAY),
    "reschedule_link": (_("The link to reschedule"), "https://lmt.example/t/8fK2pQ/r"),
    "agency_name": (_("The agency's name"), "Acme Express"),
    "agency_logo": (_("The address of the agency's logo (empty without one)"), ""),
    "agency_colour": (_("The agency's header colour"), "#0D6EFD"),
}


def tag_names(text):
    """Every tag named in text, in order of appearance, each once."""
    names = (match.strip() for match in TAG_PATTERN.findall(text or ""))
    return list(dict.fromkeys(names))


def unknown_tags(text):
    """The tags in text that are not in TAGS, in order of appearance, each once."""
    return [name for name in tag_names(text) if name not in TAGS]


def as_tag(name):
    return "{{" + name + "}}"


def render(text, values, *, html=False):
    """text with each tag replaced by its value (a missing value is empty). With html=True the
    values are escaped and the text is the operator's HTML, kept as written but for an image left
    without an address (a logo the agency has not uploaded), which shows its alt text instead."""

    def value_of(match):
        value = values.get(match.group(1).strip(), "")
        value = "" if value is None else str(value)
        return escape(value) if html else value

    rendered = TAG_PATTERN.sub(value_of, text or "")
    if html:
        rendered = _IMAGE_WITHOUT_SOURCE.sub(_image_as_text, rendered)
    return rendered


def _image_as_text(match):
    attributes = {name.lower(): value for name, _quote, value in _ATTRIBUTE.findall(match[0])}
    alt = attributes.get("alt", "")
    if not alt.strip():
        return ""
    style = attributes.get("style")
    return f'<span style="{style}">{alt}</span>' if style else f"<span>{alt}</span>"


def sample_values(agency=None):
    """A value for every tag, to preview templates: the agency's own name, logo and colour when
    given, sample data for the rest."""
    values = {name: _display(sample) for name, (_description, sample) in TAGS.items()}
    if agency is not None:
        values["agency_name"] = agency.name
        values["agency_logo"] = logo_url(agency)
        values["agency_colour"] = agency.header_colour
    return values


def logo_url(agency):
    """The absolute address of the agency's logo (e-mails need one), or empty without a logo."""
    if not agency.logo:
        return ""
    return urljoin(settings.SITE_URL + "/", agency.logo.url)


def _display(sample):
    if isinstance(sample, date):
        return formats.date_format(sample, "SHORT_DATE_FORMAT")
    return str(sample)


def validate_template(text):
    """Raises ValidationError naming every unknown tag in text (and listing the known ones)."""
    unknown = unknown_tags(text)
    if not unknown:
        return
    message = ngettext(
        "Unknown tag %(unknown)s. Available tags: %(tags)s.",
        "Unknown tags %(unknown)s. Available tags: %(tags)s.",
        len(unknown),
    )
    raise ValidationError(
        message,
        code="unknown_tag",
        params={
            "unknown": ", ".join(as_tag(name) for name in unknown),
            "tags": ", ".join(as_tag(name) for name in TAGS),
        },
    )


# SMS length. GSM-7 (the SMS default alphabet) fits 160 characters in one message and 153 per part
# when split; anything outside it makes the whole message UCS-2: 70, and 67 per part. The characters
# of the GSM extension table take two places. (Portuguese "ã", "õ", "á" are not GSM-7.)
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # characters as the network counts them (septets or UTF-16 code units)
    segments: int  # how many messages the carrier sends (and bills)


def sms_length(text):
    """How an SMS with this text is encoded and in how many segments it is sent."""
    text = text or ""
    if all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text):
        units = sum(2 if char in GSM7_EXTENDED else 1 for char in text)
        single, part = 160, 153
        encoding = "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part = 70, 67
        encoding = "UCS-2"
    if units == 0:
        segments = 0
    elif units <= single:
        segments = 1
    else:
        segments = math.ceil(units / part)
    return SmsLength(encoding=encoding, units=units, segments=segments)
