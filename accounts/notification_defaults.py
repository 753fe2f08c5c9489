"""The notification templates a new agency starts with: English, Brazilian Portuguese, Spanish.

These are content, not interface strings: each language is written out here (not translated with
gettext) because it is the text customers receive, which operators then edit in the web admin.
"""

from django.db import transaction

from .models import NotificationTemplate, Trigger

FALLBACK_LANGUAGE = "en"

# Which channels start switched on. SMS costs money per segment and too many messages annoy, so
# it is on only where the customer waits for or must act on the news: a delivery date was set or
# changed (someone must be home then; the customer who chose it expects the confirmation), the
# delivery is today (route started), the driver is on the way (delivery started), it arrived
# (delivered), it failed and can be rescheduled (delivery failed). E-mail costs nothing and also
# confirms the order when it is registered. "Driver arriving" repeats "delivery started" minutes
# later, and "out of deadline" and "itinerant route" suit only some accounts' operations: those
# start off, ready to be switched on.
SMS_ON = {
    Trigger.RESCHEDULED,
    Trigger.ROUTE_STARTED,
    Trigger.DELIVERY_STARTED,
    Trigger.DELIVERED,
    Trigger.DELIVERY_FAILED,
}
EMAIL_ON = SMS_ON | {Trigger.SERVICE_REGISTERED}

# language -> trigger -> (SMS, e-mail subject, e-mail text). The e-mail HTML is built from the text.
_TEXTS = {
    "en": {
        Trigger.SERVICE_REGISTERED: (
            "{{agency_name}}: Hi {{customer_first_name}}, we received your order {{order_number}}."
            " Follow it at {{tracking_link}}",
            "We received your order {{order_number}}",
            "Hi {{customer_first_name}},\n\n"
            "We received your order {{order_number}}. We will let you know when it is on its"
            " way.\n\n"
            "Follow it at {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.RESCHEDULED: (
            "{{agency_name}}: your order {{order_number}} will be delivered on {{delivery_day}},"
            " {{delivery_window}}. Track it: {{tracking_link}}",
            "Your order {{order_number}} will be delivered on {{delivery_day}}",
            "Hi {{customer_first_name}},\n\n"
            "Your order {{order_number}} is scheduled for delivery on {{delivery_day}}, between"
            " {{delivery_window}}.\n\n"
            "Follow it at {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.ROUTE_STARTED: (
            "{{agency_name}}: Hi {{customer_first_name}}, your order {{order_number}} is out for"
            " delivery today, expected {{eta_window}}. Track it: {{tracking_link}}",
            "Your order {{order_number}} is out for delivery today",
            "Hi {{customer_first_name}},\n\n"
            "Your order {{order_number}} is out for delivery today. We expect to arrive between"
            " {{eta_window}}.\n\n"
            "Track it live at {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.DELIVERY_STARTED: (
            "{{agency_name}}: {{driver_name}} is on the way with your order {{order_number}},"
            " arriving {{eta_window}}. Track it: {{tracking_link}}",
            "Your order {{order_number}} is on the way",
            "Hi {{customer_first_name}},\n\n"
            "{{driver_name}} is on the way with your order {{order_number}} and should arrive"
            " between {{eta_window}}.\n\n"
            "Track it live at {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.DRIVER_ARRIVING: (
            "{{agency_name}}: {{driver_name}} is arriving with your order {{order_number}}."
            " Please be ready to receive it.",
            "{{driver_name}} is arriving with your order {{order_number}}",
            "Hi {{customer_first_name}},\n\n"
            "{{driver_name}} is almost at your address with your order {{order_number}}."
            " Please be ready to receive it.\n\n"
            "Track it live at {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.DELIVERED: (
            "{{agency_name}}: your order {{order_number}} was delivered. Thank you! Rate us:"
            " {{tracking_link}}",
            "Your order {{order_number}} was delivered",
            "Hi {{customer_first_name}},\n\n"
            "Your order {{order_number}} was delivered. Thank you for your trust!\n\n"
            "See the details and rate the delivery at {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.DELIVERY_FAILED: (
            "{{agency_name}}: we could not deliver your order {{order_number}}"
            " ({{failure_reason}}). Choose a new day: {{reschedule_link}}",
            "We could not deliver your order {{order_number}}",
            "Hi {{customer_first_name}},\n\n"
            "We could not deliver your order {{order_number}} today. Reason: {{failure_reason}}."
            "\n\n"
            "Choose a new delivery day at {{reschedule_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.OUT_OF_DEADLINE: (
            "{{agency_name}}: sorry, your order {{order_number}} is running late and will miss"
            " {{deadline}}. Track it: {{tracking_link}}",
            "Your order {{order_number}} is running late",
            "Hi {{customer_first_name}},\n\n"
            "We are sorry: your order {{order_number}} is running late and will not arrive by"
            " {{deadline}}. We are doing our best to deliver it soon.\n\n"
            "Track it live at {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.ITINERANT_ROUTE: (
            "{{agency_name}}: your order {{order_number}} is on a route through your region and"
            " will arrive by {{delivery_day}}. Track it: {{tracking_link}}",
            "Your order {{order_number}} will arrive by {{delivery_day}}",
            "Hi {{customer_first_name}},\n\n"
            "Your order {{order_number}} is on a route through your region and will be"
            " delivered by {{delivery_day}}.\n\n"
            "Track it at {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
    },
    "pt-br": {
        Trigger.SERVICE_REGISTERED: (
            "{{agency_name}}: Olá {{customer_first_name}}, recebemos seu pedido {{order_number}}."
            " Acompanhe: {{tracking_link}}",
            "Recebemos seu pedido {{order_number}}",
            "Olá {{customer_first_name}},\n\n"
            "Recebemos seu pedido {{order_number}}. Avisaremos quando ele sair para entrega.\n\n"
            "Acompanhe em {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.RESCHEDULED: (
            # Without accents, so it fits one GSM-7 message.
            "{{agency_name}}: entrega do pedido {{order_number}} agendada para {{delivery_day}},"
            " {{delivery_window}}. {{tracking_link}}",
            "Seu pedido {{order_number}} será entregue em {{delivery_day}}",
            "Olá {{customer_first_name}},\n\n"
            "A entrega do seu pedido {{order_number}} está agendada para {{delivery_day}}, entre"
            " {{delivery_window}}.\n\n"
            "Acompanhe em {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.ROUTE_STARTED: (
            "{{agency_name}}: Olá {{customer_first_name}}, seu pedido {{order_number}} sai para"
            " entrega hoje, previsão {{eta_window}}. {{tracking_link}}",
            "Seu pedido {{order_number}} sai para entrega hoje",
            "Olá {{customer_first_name}},\n\n"
            "Seu pedido {{order_number}} sai para entrega hoje. A previsão de chegada é entre"
            " {{eta_window}}.\n\n"
            "Acompanhe em tempo real: {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.DELIVERY_STARTED: (
            "{{agency_name}}: {{driver_name}} está a caminho com seu pedido {{order_number}},"
            " chegada {{eta_window}}. {{tracking_link}}",
            "Seu pedido {{order_number}} está a caminho",
            "Olá {{customer_first_name}},\n\n"
            "{{driver_name}} está a caminho com seu pedido {{order_number}}. A previsão de"
            " chegada é entre {{eta_window}}.\n\n"
            "Acompanhe em tempo real: {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.DRIVER_ARRIVING: (
            "{{agency_name}}: {{driver_name}} está chegando com seu pedido {{order_number}}."
            " Fique atento para receber.",
            "{{driver_name}} está chegando com seu pedido {{order_number}}",
            "Olá {{customer_first_name}},\n\n"
            "{{driver_name}} está quase no seu endereço com o pedido {{order_number}}."
            " Fique atento para receber.\n\n"
            "Acompanhe em tempo real: {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.DELIVERED: (
            "{{agency_name}}: seu pedido {{order_number}} foi entregue. Obrigado! Avalie:"
            " {{tracking_link}}",
            "Seu pedido {{order_number}} foi entregue",
            "Olá {{customer_first_name}},\n\n"
            "Seu pedido {{order_number}} foi entregue. Obrigado pela confiança!\n\n"
            "Veja os detalhes e avalie a entrega em {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.DELIVERY_FAILED: (
            "{{agency_name}}: não conseguimos entregar seu pedido {{order_number}}"
            " ({{failure_reason}}). Reagende: {{reschedule_link}}",
            "Não conseguimos entregar seu pedido {{order_number}}",
            "Olá {{customer_first_name}},\n\n"
            "Não conseguimos entregar seu pedido {{order_number}} hoje. Motivo:"
            " {{failure_reason}}.\n\n"
            "Escolha um novo dia de entrega em {{reschedule_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.OUT_OF_DEADLINE: (
            "{{agency_name}}: desculpe, seu pedido {{order_number}} está atrasado e não chega até"
            " {{deadline}}. {{tracking_link}}",
            "Seu pedido {{order_number}} está atrasado",
            "Olá {{customer_first_name}},\n\n"
            "Pedimos desculpas: seu pedido {{order_number}} está atrasado e não chegará até"
            " {{deadline}}. Estamos fazendo o possível para entregá-lo logo.\n\n"
            "Acompanhe em tempo real: {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.ITINERANT_ROUTE: (
            "{{agency_name}}: seu pedido {{order_number}} está em rota pela sua região e chega até"
            " {{delivery_day}}. {{tracking_link}}",
            "Seu pedido {{order_number}} chega até {{delivery_day}}",
            "Olá {{customer_first_name}},\n\n"
            "Seu pedido {{order_number}} está em uma rota pela sua região e será entregue até"
            " {{delivery_day}}.\n\n"
            "Acompanhe em {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
    },
    "es": {
        Trigger.SERVICE_REGISTERED: (
            "{{agency_name}}: Hola {{customer_first_name}}, recibimos tu pedido {{order_number}}."
            " Síguelo en {{tracking_link}}",
            "Recibimos tu pedido {{order_number}}",
            "Hola {{customer_first_name}}:\n\n"
            "Recibimos tu pedido {{order_number}}. Te avisaremos cuando salga a reparto.\n\n"
            "Síguelo en {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.RESCHEDULED: (
            # Without accents, so it fits one GSM-7 message.
            "{{agency_name}}: entrega de tu pedido {{order_number}} programada para el"
            " {{delivery_day}}, {{delivery_window}}. {{tracking_link}}",
            "Tu pedido {{order_number}} se entregará el {{delivery_day}}",
            "Hola {{customer_first_name}}:\n\n"
            "La entrega de tu pedido {{order_number}} está programada para el {{delivery_day}},"
            " en la franja {{delivery_window}}.\n\n"
            "Síguelo en {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.ROUTE_STARTED: (
            "{{agency_name}}: Hola {{customer_first_name}}, tu pedido {{order_number}} sale a"
            " reparto hoy, llegada {{eta_window}}. {{tracking_link}}",
            "Tu pedido {{order_number}} sale a reparto hoy",
            "Hola {{customer_first_name}}:\n\n"
            "Tu pedido {{order_number}} sale a reparto hoy. Llegaremos entre {{eta_window}}.\n\n"
            "Síguelo en tiempo real en {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.DELIVERY_STARTED: (
            "{{agency_name}}: {{driver_name}} va en camino con tu pedido {{order_number}},"
            " llegada {{eta_window}}. {{tracking_link}}",
            "Tu pedido {{order_number}} va en camino",
            "Hola {{customer_first_name}}:\n\n"
            "{{driver_name}} va en camino con tu pedido {{order_number}} y llegará entre"
            " {{eta_window}}.\n\n"
            "Síguelo en tiempo real en {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.DRIVER_ARRIVING: (
            "{{agency_name}}: {{driver_name}} está llegando con tu pedido {{order_number}}."
            " Prepárate para recibirlo.",
            "{{driver_name}} está llegando con tu pedido {{order_number}}",
            "Hola {{customer_first_name}}:\n\n"
            "{{driver_name}} está a punto de llegar a tu dirección con el pedido"
            " {{order_number}}. Prepárate para recibirlo.\n\n"
            "Síguelo en tiempo real en {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.DELIVERED: (
            "{{agency_name}}: tu pedido {{order_number}} fue entregado. ¡Gracias! Califícanos:"
            " {{tracking_link}}",
            "Tu pedido {{order_number}} fue entregado",
            "Hola {{customer_first_name}}:\n\n"
            "Tu pedido {{order_number}} fue entregado. ¡Gracias por tu confianza!\n\n"
            "Consulta los detalles y califica la entrega en {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.DELIVERY_FAILED: (
            "{{agency_name}}: no pudimos entregar tu pedido {{order_number}}"
            " ({{failure_reason}}). Reprograma: {{reschedule_link}}",
            "No pudimos entregar tu pedido {{order_number}}",
            "Hola {{customer_first_name}}:\n\n"
            "No pudimos entregar tu pedido {{order_number}} hoy. Motivo: {{failure_reason}}.\n\n"
            "Elige un nuevo día de entrega en {{reschedule_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.OUT_OF_DEADLINE: (
            "{{agency_name}}: lo sentimos, tu pedido {{order_number}} va con retraso y no llegará"
            " el {{deadline}}. {{tracking_link}}",
            "Tu pedido {{order_number}} va con retraso",
            "Hola {{customer_first_name}}:\n\n"
            "Lo sentimos: tu pedido {{order_number}} va con retraso y no llegará el"
            " {{deadline}}. Hacemos todo lo posible para entregarlo pronto.\n\n"
            "Síguelo en tiempo real en {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
        Trigger.ITINERANT_ROUTE: (
            "{{agency_name}}: tu pedido {{order_number}} está en una ruta por tu zona y llegará"
            " antes del {{delivery_day}}. {{tracking_link}}",
            "Tu pedido {{order_number}} llegará antes del {{delivery_day}}",
            "Hola {{customer_first_name}}:\n\n"
            "Tu pedido {{order_number}} está en una ruta por tu zona y será entregado antes del"
            " {{delivery_day}}.\n\n"
            "Síguelo en {{tracking_link}}\n\n"
            "{{agency_name}}",
        ),
    },
}

# The e-mail's HTML frame: the agency's colour and logo on top, the text's paragraphs below.
_HTML_TOP = (
    '<div style="font-family:Arial,Helvetica,sans-serif;max-width:560px;margin:0 auto;'
    'color:#212529">\n'
    '<div style="background:{{agency_colour}};padding:16px 24px">'
    '<img src="{{agency_logo}}" alt="{{agency_name}}" style="max-height:48px;color:#fff"></div>\n'
    '<div style="padding:8px 24px;font-size:15px;line-height:1.5">\n'
)
_HTML_BOTTOM = "\n</div>\n</div>"

_LINK_TAGS = ("{{tracking_link}}", "{{reschedule_link}}")


def _html(text):
    """The e-mail text as HTML paragraphs in the agency's frame, with its links clickable."""
    paragraphs = []
    for paragraph in text.split("\n\n"):
        paragraph = paragraph.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        for link in _LINK_TAGS:
            paragraph = paragraph.replace(
                link, f'<a href="{link}" style="color:{{{{agency_colour}}}}">{link}</a>'
            )
        lines = paragraph.split("\n")
        paragraphs.append("<p>" + "<br>".join(lines) + "</p>")
    return _HTML_TOP + "\n".join(paragraphs) + _HTML_BOTTOM


DEFAULTS = {
    language: {
        trigger: {
            "sms_body": sms,
            "email_subject": subject,
            "email_text": text,
            "email_html": _html(text),
        }
        for trigger, (sms, subject, text) in texts.items()
    }
    for language, texts in _TEXTS.items()
}


def default_language(language):
    """The defaults' language closest to language ("pt" and "pt-BR" are "pt-br"); else English."""
    code = (language or "").lower()
    if code in DEFAULTS:
        return code
    base = code.split("-")[0]
    for known in DEFAULTS:
        if known.split("-")[0] == base:
            return known
    return FALLBACK_LANGUAGE


def default_template_values(trigger, language):
    """The field values of the default template for trigger in language (or its fallback)."""
    return {
        "trigger": trigger,
        "sms_enabled": trigger in SMS_ON,
        "email_enabled": trigger in EMAIL_ON,
        **DEFAULTS[default_language(language)][trigger],
    }


def agency_create_default_templates(*, agency, language=None):
    """Creates the agency's missing templates (one per trigger) from the defaults in language (the
    account's by default). Idempotent: existing templates are never changed. Returns the triggers
    it created."""
    language = language or agency.account.language
    with transaction.atomic():
        existing = set(agency.templates.values_list("trigger", flat=True))
        missing = [trigger for trigger in Trigger.values if trigger not in existing]
        # ignore_conflicts: a concurrent save that created the same row wins, and nothing fails.
        NotificationTemplate.objects.bulk_create(
            [
                NotificationTemplate(agency=agency, **default_template_values(trigger, language))
                for trigger in missing
            ],
            ignore_conflicts=True,
        )
    return missing
