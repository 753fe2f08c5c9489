"""Agencies: the tag language, the default templates, and the web admin's agency pages."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from PIL import Image

from accounts import notifications
from accounts.models import Agency, NotificationTemplate, Trigger
from accounts.notification_defaults import (
    DEFAULTS,
    EMAIL_ON,
    SMS_ON,
    agency_create_default_templates,
    default_language,
)
from accounts.notifications import (
    TAGS,
    render,
    sample_values,
    sms_length,
    unknown_tags,
    validate_template,
)
from tests.factories import AccountFactory, AgencyFactory

ADD_URL = reverse("admin:accounts_agency_add")
PREVIEW_URL = reverse("admin:accounts_agency_preview")


def change_url(agency):
    return reverse("admin:accounts_agency_change", args=[agency.pk])


def preview_url(agency):
    return reverse("admin:accounts_agency_preview", args=[agency.pk])


# The tag language ---------------------------------------------------------------------------------


def test_unknown_tags_are_listed_once_in_order_and_spaces_are_allowed():
    text = "Hi {{ customer_first_name }} {{foo}}, {{ bar }} and {{foo}} again {{order_number}}"
    assert unknown_tags(text) == ["foo", "bar"]
    assert unknown_tags("No tags at all, { single } braces {{ unclosed") == []
    assert unknown_tags("") == []


def test_django_template_syntax_is_not_a_tag_and_never_runs():
    assert unknown_tags("{{ customer_name|upper }}") == ["customer_name|upper"]
    assert unknown_tags("{% if 1 %}x{% endif %}") == []
    text = "{% for x in y %}{{ customer_name }}{% endfor %}"
    assert render(text, {"customer_name": "Ana"}) == "{% for x in y %}Ana{% endfor %}"


def test_render_replaces_tags_and_leaves_missing_values_empty():
    text = "Hi {{customer_first_name}}, order {{ order_number }}{{unknown}}."
    assert render(text, {"customer_first_name": "Ana", "order_number": 7}) == "Hi Ana, order 7."


def test_render_escapes_values_in_html_but_keeps_the_operators_html():
    text = '<p style="color:red">Hi {{customer_name}}</p>'
    values = {"customer_name": '<script>alert("x")</script> & Co'}
    assert render(text, values, html=True) == (
        '<p style="color:red">Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co</p>'
    )
    assert render(text, values) == f'<p style="color:red">Hi {values["customer_name"]}</p>'


def test_an_image_left_without_an_address_shows_its_alt_text_in_html():
    text = '<div><img src="{{agency_logo}}" alt="{{agency_name}}" style="color:#fff"></div>'
    without_logo = render(text, {"agency_logo": "", "agency_name": "Rapidão & Cia"}, html=True)
    assert without_logo == '<div><span style="color:#fff">Rapidão &amp; Cia</span></div>'
    with_logo = render(text, {"agency_logo": "https://x.test/l.png", "agency_name": "R"}, html=True)
    assert with_logo == '<div><img src="https://x.test/l.png" alt="R" style="color:#fff"></div>'
    assert render("<IMG SRC='' ALT=''>x", {}, html=True) == "x"
    assert render("<img src=''>", {}) == "<img src=''>"  # plain text is not HTML


def test_validate_template_names_every_unknown_tag():
    validate_template("Hi {{customer_first_name}}")
    with pytest.raises(ValidationError) as error:
        validate_template("Hi {{nope}} and {{ other }}")
    message = error.value.messages[0]
    assert message.startswith("Unknown tags {{nope}}, {{other}}.")
    assert "{{customer_first_name}}" in message  # the available ones are listed
    with pytest.raises(ValidationError) as error:
        validate_template("{{nope}}")
    assert error.value.messages[0].startswith("Unknown tag {{nope}}. Available tags: ")


def test_sample_values_cover_every_tag_and_take_the_agencys_brand(db, settings):
    values = sample_values()
    assert set(values) == set(TAGS)
    assert values["customer_first_name"] == "Maria"
    agency = AgencyFactory(name="Rapidão", header_colour="#112233")
    agency.logo.name = "agencies/logo.png"
    values = sample_values(agency)
    assert values["agency_name"] == "Rapidão"
    assert values["agency_colour"] == "#112233"
    assert values["agency_logo"] == f"{settings.SITE_URL}/media/agencies/logo.png"


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters take two places
        ("{" * 81, "GSM-7", 162, 2),
        ("é ñ ü Ç" * 10, "GSM-7", 70, 1),
        ("ã" * 70, "UCS-2", 70, 1),
        ("Olá " + "a" * 67, "UCS-2", 71, 2),
        ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: two UTF-16 units each
    ],
)
def test_sms_length_counts_gsm7_and_ucs2_segments(text, encoding, units, segments):
    assert sms_length(text) == notifications.SmsLength(encoding, units, segments)


# Default templates --------------------------------------------------------------------------------


def test_defaults_exist_for_every_language_and_trigger():
    assert set(DEFAULTS) == {"en", "pt-br", "es"}
    for templates in DEFAULTS.values():
        assert set(templates) == set(Trigger.values)
        for fields in templates.values():
            assert all(fields[name].strip() for name in fields)


def test_every_default_template_uses_only_known_tags():
    for language, templates in DEFAULTS.items():
        for trigger, fields in templates.items():
            for name, text in fields.items():
                assert unknown_tags(text) == [], (language, trigger, name)


def test_default_sms_fit_in_two_segments_with_sample_data():
    for language, templates in DEFAULTS.items():
        with translation.override(language):
            values = sample_values()
        for trigger, fields in templates.items():
            length = sms_length(render(fields["sms_body"], values))
            assert 1 <= length.segments <= 2, (language, trigger, length)


def test_default_language_falls_back_sensibly():
    assert default_language("pt-br") == "pt-br"
    assert default_language("pt-BR") == "pt-br"
    assert default_language("pt") == "pt-br"
    assert default_language("es-ar") == "es"
    assert default_language("fr") == "en"
    assert default_language(None) == "en"


def test_default_templates_are_created_in_the_accounts_language_and_idempotently(db):
    agency = AgencyFactory(account=AccountFactory(language="pt-br"))
    kept = NotificationTemplate.objects.create(
        agency=agency, trigger=Trigger.DELIVERED, sms_body="Mine", sms_enabled=False
    )
    created = agency_create_default_templates(agency=agency)
    assert len(created) == len(Trigger) - 1
    assert agency_create_default_templates(agency=agency) == []
    templates = {row.trigger: row for row in agency.templates.all()}
    assert set(templates) == set(Trigger.values)
    kept.refresh_from_db()
    assert kept.sms_body == "Mine" and not kept.sms_enabled
    started = templates[Trigger.DELIVERY_STARTED]
    assert started.sms_body == DEFAULTS["pt-br"][Trigger.DELIVERY_STARTED]["sms_body"]
    for trigger, row in templates.items():
        if trigger != Trigger.DELIVERED:
            assert row.sms_enabled == (trigger in SMS_ON), trigger
            assert row.email_enabled == (trigger in EMAIL_ON), trigger


def test_default_templates_take_an_explicit_language(db):
    agency = AgencyFactory(account=AccountFactory(language="pt-br"))
    agency_create_default_templates(agency=agency, language="es")
    row = agency.templates.get(trigger=Trigger.DELIVERED)
    assert row.email_subject == DEFAULTS["es"][Trigger.DELIVERED]["email_subject"]


# The web admin ------------------------------------------------------------------------------------


def management(prefix="templates", total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": str(len(Trigger)),
    }


def agency_post(name="Acme Express", colour="#0D6EFD", templates=(), initial=0, **extra):
    """The add/change form's data: the agency's fields and the given template rows."""
    data = {"name": name, "header_colour": colour, "is_active": "on", **extra}
    data.update(management(total=len(templates), initial=initial))
    for index, row in enumerate(templates):
        for field, value in row.items():
            data[f"templates-{index}-{field}"] = value
    return data


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def png(width, height, mode="RGBA"):
    buffer = io.BytesIO()
    Image.new(mode, (width, height), (200, 30, 30, 128) if mode == "RGBA" else "red").save(
        buffer, format="PNG"
    )
    return SimpleUploadedFile("logo.png", buffer.getvalue(), content_type="image/png")


def test_add_page_offers_every_trigger_prefilled_in_the_accounts_language(client_of, manager_a):
    manager_a.account.language = "pt-br"
    manager_a.account.save()
    response = client_of(manager_a).get(ADD_URL)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert [form.initial["trigger"] for form in formset.forms] == Trigger.values
    delivered = formset.forms[Trigger.values.index(Trigger.DELIVERED)]
    assert delivered.initial["sms_body"] == DEFAULTS["pt-br"][Trigger.DELIVERED]["sms_body"]
    content = response.content.decode()
    assert reverse("admin:accounts_agency_preview") in content
    assert "{{customer_first_name}}" in content  # the tag reference


def test_manager_creates_an_agency_with_one_template_and_gets_the_rest(client_of, manager_a):
    sms = "Hi {{ customer_first_name }}, {{driver_name}} is on the way: {{tracking_link}}"
    response = client_of(manager_a).post(
        ADD_URL,
        agency_post(
            templates=[{"trigger": Trigger.DELIVERY_STARTED, "sms_enabled": "on", "sms_body": sms}]
        ),
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    agency = Agency.objects.get(name="Acme Express")
    assert agency.account == manager_a.account
    assert agency.header_colour == "#0D6EFD"
    templates = {row.trigger: row for row in agency.templates.all()}
    assert set(templates) == set(Trigger.values)
    typed = templates[Trigger.DELIVERY_STARTED]
    assert typed.sms_body == sms and typed.sms_enabled and not typed.email_enabled
    assert templates[Trigger.DELIVERED].sms_body == DEFAULTS["en"][Trigger.DELIVERED]["sms_body"]


def test_a_template_with_an_unknown_tag_is_refused_naming_it(client_of, manager_a):
    response = client_of(manager_a).post(
        ADD_URL,
        agency_post(
            templates=[
                {
                    "trigger": Trigger.DELIVERED,
                    "email_subject": "Delivered {{order_number}}",
                    "email_text": "Hello {{ nope }} and {{customer_name}}",
                }
            ]
        ),
    )
    assert response.status_code == 200
    form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert "Unknown tag {{nope}}." in form.errors["email_text"][0]
    assert "Unknown tag {{nope}}." in response.content.decode()
    assert not Agency.objects.exists()
    assert not NotificationTemplate.objects.exists()


def test_editing_a_template_with_an_unknown_tag_keeps_the_saved_one(client_of, manager_a):
    agency = AgencyFactory(account=manager_a.account, name="Acme Express")
    agency_create_default_templates(agency=agency)
    rows = list(agency.templates.all())
    templates = [
        {
            "id": row.pk,
            "agency": agency.pk,
            "trigger": row.trigger,
            "sms_body": "{{nope}}" if row.trigger == Trigger.DELIVERED else row.sms_body,
            "email_subject": row.email_subject,
            "email_text": row.email_text,
            "email_html": row.email_html,
        }
        for row in rows
    ]
    response = client_of(manager_a).post(
        change_url(agency), agency_post(templates=templates, initial=len(rows))
    )
    assert response.status_code == 200
    assert "Unknown tag {{nope}}." in response.content.decode()
    assert agency.templates.get(trigger=Trigger.DELIVERED).sms_body != "{{nope}}"


def test_the_same_trigger_twice_is_refused(client_of, manager_a):
    row = {"trigger": Trigger.DELIVERED, "sms_enabled": "on", "sms_body": "Done"}
    response = client_of(manager_a).post(ADD_URL, agency_post(templates=[row, row]))
    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert not Agency.objects.exists()


def test_a_channel_switched_on_needs_its_text(client_of, manager_a):
    row = {"trigger": Trigger.DELIVERED, "sms_enabled": "on", "email_enabled": "on"}
    response = client_of(manager_a).post(ADD_URL, agency_post(templates=[row]))
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.forms[0].errors
    assert set(errors) == {"sms_body", "email_subject", "email_text"}


def test_agency_names_are_unique_per_account(client_of, manager_a, manager_b):
    AgencyFactory(account=manager_a.account, name="Acme Express")
    response = client_of(manager_a).post(ADD_URL, agency_post())
    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    # Another account may use the same name.
    response = client_of(manager_b).post(ADD_URL, agency_post())
    assert response.status_code == 302


@pytest.mark.parametrize("colour", ["blue", "#12345", "#GG0000", "0D6EFD"])
def test_header_colour_must_be_a_hex_colour(client_of, manager_a, colour):
    response = client_of(manager_a).post(ADD_URL, agency_post(colour=colour))
    assert response.status_code == 200
    assert "header_colour" in response.context["adminform"].form.errors
    assert not Agency.objects.exists()


def test_header_colour_is_stored_in_upper_case(client_of, manager_a):
    client_of(manager_a).post(ADD_URL, agency_post(colour="#a1b2c3"))
    assert Agency.objects.get().header_colour == "#A1B2C3"


def test_logo_upload_is_resized_and_keeps_transparency(client_of, manager_a, media):
    response = client_of(manager_a).post(ADD_URL, agency_post(logo=png(2000, 1000)))
    assert response.status_code == 302
    agency = Agency.objects.get()
    assert agency.logo.name.startswith("agencies/") and agency.logo.name.endswith(".png")
    with Image.open(agency.logo.path) as image:
        assert image.size == (512, 256)
        assert image.mode == "RGBA"


def test_a_non_image_logo_is_refused(client_of, manager_a, media):
    fake = SimpleUploadedFile("logo.png", b"not an image at all", content_type="image/png")
    response = client_of(manager_a).post(ADD_URL, agency_post(logo=fake))
    assert response.status_code == 200
    assert "logo" in response.context["adminform"].form.errors
    assert not Agency.objects.exists()


def test_preview_renders_the_templates_with_sample_data(client_of, manager_a):
    response = client_of(manager_a).post(
        PREVIEW_URL,
        {
            "trigger": Trigger.DELIVERY_STARTED,
            "name": "Rapid <b>Express</b>",
            "sms_body": "Hi {{customer_first_name}}, order {{ order_number }} from {{agency_name}}",
            "email_subject": "Order {{order_number}}",
            "email_text": "Hello {{customer_name}}",
            "email_html": '<p onclick="x">Hi {{agency_name}}</p><script>alert(1)</script>',
        },
    )
    assert response.status_code == 200
    content = response.content.decode()
    sms = "Hi Maria, order PED-10422 from Rapid &lt;b&gt;Express&lt;/b&gt;"
    assert sms in content
    assert "1 SMS segment" in content
    assert "Order PED-10422" in content and "Hello Maria Silva" in content
    # The e-mail's HTML is only ever inside a sandboxed iframe's srcdoc, escaped.
    assert 'sandbox=""' in content
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "<b>Express</b>" not in content
    assert "Unknown tag" not in content


def test_preview_shows_the_unknown_tag_error(client_of, manager_a):
    response = client_of(manager_a).post(PREVIEW_URL, {"sms_body": "Hi {{nope}}"})
    assert response.status_code == 200
    assert "Unknown tag {{nope}}." in response.content.decode()


def test_preview_of_an_agency_uses_its_brand(client_of, manager_a):
    agency = AgencyFactory(account=manager_a.account, name="Acme Express")
    response = client_of(manager_a).get(preview_url(agency), {"sms_body": "From {{agency_name}}"})
    assert response.status_code == 200
    assert "From Acme Express" in response.content.decode()


def test_preview_of_another_accounts_agency_is_not_found(client_of, manager_a, manager_b):
    theirs = AgencyFactory(account=manager_b.account)
    client = client_of(manager_a)
    assert client.post(preview_url(theirs), {"sms_body": "x"}).status_code == 404
    assert client.get(change_url(theirs)).status_code == 404
    assert client.post(reverse("admin:accounts_agency_preview", args=["nope"])).status_code == 404


def test_preview_needs_the_admin(client):
    response = client.post(PREVIEW_URL, {"sms_body": "x"})
    assert response.status_code == 302 and "login" in response.url


def test_agency_list_shows_only_the_accounts_agencies(client_of, manager_a, manager_b):
    AgencyFactory(account=manager_a.account, name="Ours")
    AgencyFactory(account=manager_b.account, name="Theirs")
    response = client_of(manager_a).get(reverse("admin:accounts_agency_changelist"))
    assert [agency.name for agency in response.context["cl"].result_list] == ["Ours"]


def test_operator_views_agencies_and_previews_but_cannot_change_them(client_of, operator_a):
    agency = AgencyFactory(account=operator_a.account, name="Acme Express")
    agency_create_default_templates(agency=agency)
    client = client_of(operator_a)
    assert client.get(reverse("admin:accounts_agency_changelist")).status_code == 200
    assert client.get(change_url(agency)).status_code == 200
    assert client.get(ADD_URL).status_code == 403
    assert client.post(ADD_URL, agency_post(name="Other")).status_code == 403
    response = client.post(change_url(agency), agency_post(name="Renamed"))
    assert response.status_code == 403
    agency.refresh_from_db()
    assert agency.name == "Acme Express"
    assert client.post(preview_url(agency), {"sms_body": "{{agency_name}}"}).status_code == 200
