"""The settings a new account starts with: national holidays and the default reason lists.

The lists are written here in the three interface languages, one dict per language, and created in
the account's language. gettext does not fit: it translates into the language active for the current
request (the operator who happens to create the account, or none in a management command or a task),
while these rows are data stored once in the account's language and then owned and edited by the
account, not interface text translated again for each viewer.
"""

import holidays as holidays_lib
from django.db import transaction

from .models import ChatTicketType, FailureReason, Holiday, StatusChangeReason

# The holidays package's locales to try for each account language, best first. A language the
# package does not have for a country falls back to the package's default for that country (its
# official language, e.g. Portuguese for Brazil).
HOLIDAY_LOCALES = {
    "pt-br": ["pt_BR"],
    "en": ["en_US"],
    "es": ["es"],
}

STATUS_CHANGE_REASONS = {
    "en": [
        "Customer asked by phone",
        "Customer asked by e-mail",
        "Wrong address corrected",
        "Registered by mistake",
        "Duplicate service",
        "Driver reported by phone",
        "Sender cancelled the order",
        "System error corrected",
    ],
    "pt-br": [
        "Cliente solicitou por telefone",
        "Cliente solicitou por e-mail",
        "Endereço incorreto corrigido",
        "Cadastrado por engano",
        "Serviço duplicado",
        "Motorista informou por telefone",
        "Remetente cancelou o pedido",
        "Erro do sistema corrigido",
    ],
    "es": [
        "El cliente lo pidió por teléfono",
        "El cliente lo pidió por correo electrónico",
        "Dirección incorrecta corregida",
        "Registrado por error",
        "Servicio duplicado",
        "El conductor lo informó por teléfono",
        "El remitente canceló el pedido",
        "Error del sistema corregido",
    ],
}

# (description, opens_chat, requires_description, customer_fault)
FAILURE_REASONS = {
    "en": [
        ("Customer absent", False, False, True),
        ("Closed establishment", False, False, True),
        ("Refused by customer", False, True, True),
        ("Address not found", True, False, False),
        ("Incomplete address", True, False, False),
        ("Customer moved away", False, True, False),
        ("Unsafe area", True, False, False),
        ("Damaged goods", True, True, False),
        ("Vehicle breakdown", True, True, False),
        ("Route time ran out", False, False, False),
        ("Other", True, True, False),
    ],
    "pt-br": [
        ("Cliente ausente", False, False, True),
        ("Estabelecimento fechado", False, False, True),
        ("Recusado pelo cliente", False, True, True),
        ("Endereço não localizado", True, False, False),
        ("Endereço incompleto", True, False, False),
        ("Cliente mudou-se", False, True, False),
        ("Área de risco", True, False, False),
        ("Mercadoria avariada", True, True, False),
        ("Problema no veículo", True, True, False),
        ("Tempo da rota esgotado", False, False, False),
        ("Outro", True, True, False),
    ],
    "es": [
        ("Cliente ausente", False, False, True),
        ("Establecimiento cerrado", False, False, True),
        ("Rechazado por el cliente", False, True, True),
        ("Dirección no encontrada", True, False, False),
        ("Dirección incompleta", True, False, False),
        ("El cliente se mudó", False, True, False),
        ("Zona insegura", True, False, False),
        ("Mercancía dañada", True, True, False),
        ("Avería del vehículo", True, True, False),
        ("Se acabó el tiempo de la ruta", False, False, False),
        ("Otro", True, True, False),
    ],
}

# (description, reversible): a reversible ticket can turn a failure into a success.
CHAT_TICKET_TYPES = {
    "en": [
        ("Customer came back", True),
        ("Address corrected", True),
        ("Delivery confirmed by phone", True),
        ("Received by a neighbour", True),
        ("Rescheduled with the customer", False),
        ("Returned to sender", False),
        ("Question answered", False),
        ("Not resolved", False),
    ],
    "pt-br": [
        ("Cliente retornou", True),
        ("Endereço corrigido", True),
        ("Entrega confirmada por telefone", True),
        ("Recebido por vizinho", True),
        ("Reagendado com o cliente", False),
        ("Devolvido ao remetente", False),
        ("Dúvida esclarecida", False),
        ("Não resolvido", False),
    ],
    "es": [
        ("El cliente regresó", True),
        ("Dirección corregida", True),
        ("Entrega confirmada por teléfono", True),
        ("Recibido por un vecino", True),
        ("Reprogramado con el cliente", False),
        ("Devuelto al remitente", False),
        ("Duda resuelta", False),
        ("No resuelto", False),
    ],
}

HOLIDAY_NAME_MAX = Holiday._meta.get_field("name").max_length


def account_load_defaults(*, account, today=None):
    """Creates the account's national holidays (this year and next) and default reason lists, in
    one transaction; returns how many rows of each kind it created.

    Idempotent: it only creates rows whose natural key is missing (the holiday's date; the
    description, compared case-insensitively) and never changes an existing row, so whatever an
    operator edited (a name, a flag, switching an entry off) stays as it is. A default that was
    deleted or renamed is missing again and comes back on the next run: meant to run when the
    account is created (and by the demo seed); a yearly job should call `holidays_load` for the
    new year only.
    """
    today = today or account.today()
    language = _defaults_language(account.language)
    failure_reasons = [
        {
            "description": text,
            "opens_chat": opens_chat,
            "requires_description": requires_description,
            "customer_fault": customer_fault,
        }
        for text, opens_chat, requires_description, customer_fault in FAILURE_REASONS[language]
    ]
    ticket_types = [
        {"description": text, "reversible": reversible}
        for text, reversible in CHAT_TICKET_TYPES[language]
    ]
    status_reasons = [{"description": text} for text in STATUS_CHANGE_REASONS[language]]
    with transaction.atomic():
        return {
            "holidays": holidays_load(account=account, years=[today.year, today.year + 1]),
            "status_change_reasons": _create_missing(StatusChangeReason, account, status_reasons),
            "failure_reasons": _create_missing(FailureReason, account, failure_reasons),
            "chat_ticket_types": _create_missing(ChatTicketType, account, ticket_types),
        }


def holidays_load(*, account, years):
    """Creates the national holidays of the account's country for `years` whose date the account
    has no holiday on yet; returns how many it created. Idempotent; a country the holidays
    package does not know loads nothing."""
    country = (account.country or "").upper()
    if country not in holidays_lib.list_supported_countries():
        return 0
    calendar = holidays_lib.country_holidays(
        country, years=list(years), language=_holiday_locale(country, account.language)
    )
    with transaction.atomic():
        taken = set(
            Holiday.objects.filter(account=account, date__in=list(calendar)).values_list(
                "date", flat=True
            )
        )
        rows = [
            Holiday(account=account, date=day, name=name[:HOLIDAY_NAME_MAX])
            for day, name in sorted(calendar.items())
            if day not in taken
        ]
        # A concurrent run may have created some of them first: skip those, do not fail.
        Holiday.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _holiday_locale(country, language):
    """The package's locale closest to the account's language, else the country's own language.

    Never left to the package: given no language, it picks one from the process's LANGUAGE / LANG
    environment, so the names would depend on how the server was started.
    """
    calendar = holidays_lib.country_holidays(country)
    for locale in HOLIDAY_LOCALES.get(_defaults_language(language), []):
        if locale in calendar.supported_languages:
            return locale
    return calendar.default_language


def _defaults_language(language):
    """The key of the default lists for an account language: exact, then by prefix, else English."""
    language = (language or "").lower()
    if language in STATUS_CHANGE_REASONS:
        return language
    prefix = language.split("-")[0]
    return next((key for key in STATUS_CHANGE_REASONS if key.split("-")[0] == prefix), "en")


def _create_missing(model, account, entries):
    existing = {
        description.casefold()
        for description in model.objects.filter(account=account).values_list(
            "description", flat=True
        )
    }
    rows = [
        model(account=account, **entry)
        for entry in entries
        if entry["description"].casefold() not in existing
    ]
    # A concurrent run may have created some of them first: skip those, do not fail.
    model.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
