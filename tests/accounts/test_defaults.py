"""The settings a new account starts with: national holidays and the default reason lists."""

from datetime import date

import pytest

from accounts import defaults
from accounts.defaults import account_load_defaults, holidays_load
from accounts.models import ChatTicketType, FailureReason, Holiday, StatusChangeReason
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

TODAY = date(2025, 6, 1)
MODELS = [Holiday, StatusChangeReason, FailureReason, ChatTicketType]


def counts(account):
    return {model: model.objects.filter(account=account).count() for model in MODELS}


def holiday_names(account):
    return dict(Holiday.objects.filter(account=account).values_list("date", "name"))


@pytest.fixture
def brazilian(db):
    return AccountFactory(slug="entregas", language="pt-br", country="BR")


def test_a_brazilian_account_gets_this_and_next_years_national_holidays_in_portuguese(brazilian):
    summary = account_load_defaults(account=brazilian, today=TODAY)
    names = holiday_names(brazilian)
    for year in (2025, 2026):
        assert names[date(year, 4, 21)] == "Tiradentes"
        assert names[date(year, 9, 7)] == "Independência do Brasil"
        assert names[date(year, 12, 25)] == "Natal"
    assert {day.year for day in names} == {2025, 2026}
    assert summary["holidays"] == len(names) >= 18


def test_an_english_account_gets_the_holiday_names_in_english(db):
    account = AccountFactory(language="en", country="BR")
    account_load_defaults(account=account, today=TODAY)
    names = holiday_names(account)
    assert names[date(2025, 4, 21)] == "Tiradentes' Day"
    assert names[date(2026, 12, 25)] == "Christmas Day"


def test_a_language_the_holidays_package_lacks_gets_the_countrys_own(db, monkeypatch):
    # Not the process's locale: the names must not depend on how the server was started.
    monkeypatch.setenv("LANGUAGE", "en_US")
    account = AccountFactory(language="es", country="BR")
    account_load_defaults(account=account, today=TODAY)
    assert holiday_names(account)[date(2025, 12, 25)] == "Natal"


def test_a_spanish_speaking_country_gets_spanish_names(db):
    account = AccountFactory(language="es", country="AR")
    account_load_defaults(account=account, today=TODAY)
    assert holiday_names(account)[date(2025, 12, 25)] == "Navidad"


def test_a_country_code_in_lower_case_is_still_known(db):
    account = AccountFactory(language="en", country="br")
    assert account_load_defaults(account=account, today=TODAY)["holidays"] > 0


def test_running_twice_adds_nothing(brazilian):
    account_load_defaults(account=brazilian, today=TODAY)
    before = counts(brazilian)
    again = account_load_defaults(account=brazilian, today=TODAY)
    assert again == {
        "holidays": 0,
        "status_change_reasons": 0,
        "failure_reasons": 0,
        "chat_ticket_types": 0,
    }
    assert counts(brazilian) == before


def test_loading_takes_a_few_queries_not_one_per_row(brazilian, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        account_load_defaults(account=brazilian, today=TODAY)


@pytest.mark.parametrize("country", ["XX", ""])
def test_an_unknown_country_loads_no_holidays_and_does_not_fail(db, country):
    account = AccountFactory(language="en", country=country)
    summary = account_load_defaults(account=account, today=TODAY)
    assert summary["holidays"] == 0
    assert not Holiday.objects.filter(account=account).exists()
    assert summary["failure_reasons"] == FailureReason.objects.filter(account=account).count() > 0


def test_the_lists_are_created_in_the_accounts_language_with_their_flags(brazilian):
    summary = account_load_defaults(account=brazilian, today=TODAY)
    failures = {row.description: row for row in FailureReason.objects.filter(account=brazilian)}
    absent = failures["Cliente ausente"]
    assert absent.customer_fault and not absent.opens_chat and not absent.requires_description
    assert failures["Endereço não localizado"].opens_chat
    refused = failures["Recusado pelo cliente"]
    assert refused.requires_description and refused.customer_fault
    damaged = failures["Mercadoria avariada"]
    assert damaged.opens_chat and damaged.requires_description and not damaged.customer_fault
    assert failures["Estabelecimento fechado"].customer_fault
    assert failures["Área de risco"].opens_chat
    assert all(row.is_active for row in failures.values())

    tickets = dict(
        ChatTicketType.objects.filter(account=brazilian).values_list("description", "reversible")
    )
    assert tickets["Cliente retornou"] is True
    assert tickets["Endereço corrigido"] is True
    assert tickets["Entrega confirmada por telefone"] is True
    assert tickets["Não resolvido"] is False

    reasons = set(
        StatusChangeReason.objects.filter(account=brazilian).values_list("description", flat=True)
    )
    assert {"Cliente solicitou por telefone", "Cadastrado por engano"} <= reasons
    assert summary["status_change_reasons"] == len(reasons)
    assert summary["failure_reasons"] == len(failures)
    assert summary["chat_ticket_types"] == len(tickets)


@pytest.mark.parametrize(
    ("language", "refused", "came_back"),
    [
        ("en", "Refused by customer", "Customer came back"),
        ("es", "Rechazado por el cliente", "El cliente regresó"),
    ],
)
def test_other_languages_get_their_own_texts(db, language, refused, came_back):
    account = AccountFactory(language=language, country="BR")
    account_load_defaults(account=account, today=TODAY)
    row = FailureReason.objects.get(account=account, description=refused)
    assert row.requires_description and row.customer_fault
    assert ChatTicketType.objects.get(account=account, description=came_back).reversible
    assert not FailureReason.objects.filter(account=account, description="Mercadoria avariada")


@pytest.mark.parametrize(
    "lists",
    [defaults.STATUS_CHANGE_REASONS, defaults.FAILURE_REASONS, defaults.CHAT_TICKET_TYPES],
)
def test_every_language_has_the_same_entries_with_the_same_flags(lists):
    english = lists["en"]
    for language in ("pt-br", "es"):
        translated = lists[language]
        assert len(translated) == len(english), language
        assert len({_text(entry) for entry in translated}) == len(translated), language
        for mine, theirs in zip(english, translated, strict=True):
            assert _flags(mine) == _flags(theirs), (language, mine, theirs)


def _text(entry):
    return entry if isinstance(entry, str) else entry[0]


def _flags(entry):
    return () if isinstance(entry, str) else entry[1:]


def test_an_edited_default_is_not_overwritten_on_a_rerun(brazilian):
    account_load_defaults(account=brazilian, today=TODAY)
    FailureReason.objects.filter(account=brazilian, description="Cliente ausente").update(
        customer_fault=False, opens_chat=True, is_active=False
    )
    ChatTicketType.objects.filter(account=brazilian, description="Não resolvido").update(
        reversible=True
    )
    Holiday.objects.filter(account=brazilian, date=date(2025, 12, 25)).update(name="Natal (folga)")

    account_load_defaults(account=brazilian, today=TODAY)

    absent = FailureReason.objects.get(account=brazilian, description="Cliente ausente")
    assert (absent.customer_fault, absent.opens_chat, absent.is_active) == (False, True, False)
    assert ChatTicketType.objects.get(account=brazilian, description="Não resolvido").reversible
    assert holiday_names(brazilian)[date(2025, 12, 25)] == "Natal (folga)"


def test_an_entry_the_account_already_has_in_other_case_is_not_duplicated(brazilian):
    FailureReason.objects.create(account=brazilian, description="CLIENTE AUSENTE")
    account_load_defaults(account=brazilian, today=TODAY)
    assert not FailureReason.objects.filter(account=brazilian, description="Cliente ausente")
    assert FailureReason.objects.filter(account=brazilian, description__iexact="cliente ausente")


def test_a_holiday_the_account_set_on_a_national_holidays_date_is_kept(brazilian):
    Holiday.objects.create(account=brazilian, date=date(2025, 4, 21), name="Inventário")
    summary = account_load_defaults(account=brazilian, today=TODAY)
    assert holiday_names(brazilian)[date(2025, 4, 21)] == "Inventário"
    assert summary["holidays"] == Holiday.objects.filter(account=brazilian).count() - 1


def test_a_yearly_load_adds_only_the_new_year(brazilian):
    account_load_defaults(account=brazilian, today=TODAY)
    before = Holiday.objects.filter(account=brazilian).count()
    added = holidays_load(account=brazilian, years=[2027])
    assert added == Holiday.objects.filter(account=brazilian).count() - before > 0
    assert Holiday.objects.filter(account=brazilian, date=date(2027, 4, 21)).exists()
    assert holidays_load(account=brazilian, years=[2026, 2027]) == 0


def test_defaults_belong_to_their_account_only(brazilian):
    other = AccountFactory(slug="other", language="pt-br", country="BR")
    account_load_defaults(account=brazilian, today=TODAY)
    assert counts(other) == dict.fromkeys(MODELS, 0)
    account_load_defaults(account=other, today=TODAY)
    assert counts(other) == counts(brazilian)


def test_today_defaults_to_the_accounts_today(brazilian):
    account_load_defaults(account=brazilian)
    this_year = brazilian.today().year
    years = {day.year for day in holiday_names(brazilian)}
    assert years == {this_year, this_year + 1}
