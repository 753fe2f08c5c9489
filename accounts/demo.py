"""Demo data: an account with every setting filled in, so each feature has something to show.

The base creates users of every role, two branches, a partner, a carrier, drivers and their
vehicles, an agency with its templates, and the account's defaults (holidays, reason lists).

Apps higher up register a step with `register` in their AppConfig.ready(); `seed` runs the base and
then every step, in one transaction. Running it again refreshes the same rows (found by their
natural keys), duplicating none; only the integration API key is new on every run (a key cannot be
shown twice), and the one before it is revoked.
"""

import random
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.text import slugify

from tracking.lib import br

from .apikeys import api_key_create
from .defaults import account_load_defaults
from .models import (
    Account,
    Agency,
    ApiKey,
    Branch,
    Carrier,
    Driver,
    Partner,
    PartyKind,
    Role,
    User,
    Vehicle,
    VehicleType,
)
from .notification_defaults import agency_create_default_templates

MANAGER_PASSWORD = "demo-manager"
OPERATOR_PASSWORD = "demo-operator"
DRIVER_PASSWORD = "demo-driver"
PARTNER_PASSWORD = "demo-partner"
CARRIER_PASSWORD = "demo-carrier"
CALL_CENTRE_PASSWORD = "demo-call-centre"

TIME_ZONE = "America/Sao_Paulo"
API_KEY_NAME = "Demo integration"
AGENCY_COLOUR = "#E4572E"


def random_cpf(rng):
    """A valid CPF drawn from rng (never the all-equal digits the validators reject)."""
    while True:
        base = "".join(str(rng.randint(0, 9)) for _ in range(9))
        if len(set(base)) > 1:
            return br.cpf_with_check_digits(base)


def random_cnpj(rng):
    """A valid CNPJ of a head office (establishment 0001) drawn from rng."""
    return br.cnpj_with_check_digits(f"{rng.randint(10_000_000, 99_999_999)}0001")


def random_mobile(rng, area_code="11"):
    """A Brazilian mobile number in E.164: +55, the area code, 9 and eight digits."""
    return f"+55{area_code}9{rng.randint(6, 9)}{rng.randint(0, 9_999_999):07d}"


# The company's CNPJ root: its branches are establishments 0001, 0002, ... of the same company.
COMPANY_ROOT = "11222333"

# São Paulo: the main branch sits in Barra Funda, services spread over the city around it.
BRANCH = {
    "name": "São Paulo - Barra Funda",
    "prefix": "SP",
    "trade_name": "Barra Funda",
    "document": br.cnpj_with_check_digits(f"{COMPANY_ROOT}0001"),
    "contact_name": "Renata Alves",
    "phone": "+551133334444",
    "street": "Rua James Holland",
    "number": "422",
    "district": "Barra Funda",
    "city": "São Paulo",
    "state": "SP",
    "postal_code": "01138-000",
    "lat": -23.5259,
    "lng": -46.6634,
}
SECOND_BRANCH = {
    "name": "Campinas - Centro",
    "prefix": "CPS",
    "trade_name": "Campinas",
    "document": br.cnpj_with_check_digits(f"{COMPANY_ROOT}0002"),
    "contact_name": "Paulo Ribeiro",
    "phone": "+551932345678",
    "street": "Rua Barão de Jaguara",
    "number": "1000",
    "district": "Centro",
    "city": "Campinas",
    "state": "SP",
    "postal_code": "13015-001",
    "lat": -22.9064,
    "lng": -47.0616,
}
PARTNER = {"name": "Loja Exemplo Moda", "document": br.cnpj_with_check_digits("457231740001")}
CARRIER = {
    "name": "Frota Própria Transportes Ltda",
    "trade_name": "Frota Própria",
    "document": br.cnpj_with_check_digits("334445550001"),
    "contact_name": "Sérgio Nogueira",
    "phone": "+551136665555",
    "street": "Avenida Marquês de São Vicente",
    "number": "1500",
    "district": "Barra Funda",
    "city": "São Paulo",
    "state": "SP",
    "postal_code": "01139-000",
    "lat": -23.5186,
    "lng": -46.6750,
}
DRIVERS = [
    # username, first name, last name, CPF's first nine digits, RG, phone, vehicle type, plate,
    # capacity kg, capacity m³, speed km/h, whether the carrier contracts them
    ("ana", "Ana", "Souza", "390533447", "34.567.890-1", "+5511990000001",
     VehicleType.MOTORBIKE, "DEM1A01", 30, "0.150", 35, False),
    ("bruno", "Bruno", "Lima", "275481936", "28.345.612-7", "+5511990000002",
     VehicleType.CAR, "DEM2B02", 300, "1.200", 30, False),
    ("carla", "Carla", "Mendes", "618204573", "41.902.337-5", "+5511990000003",
     VehicleType.VAN, "DEM3C03", 1200, "8.000", 25, True),
]  # fmt: skip

_steps = []


def register(step):
    """Adds a step (a function taking a DemoContext) to every demo seeding."""
    if step not in _steps:
        _steps.append(step)
    return step


@dataclass
class DemoContext:
    account: Account
    branch: Branch
    manager: User
    operator: User
    drivers: list
    random: random.Random
    output: dict = field(default_factory=dict)
    branches: list = field(default_factory=list)
    partner: Partner | None = None
    carrier: Carrier | None = None
    agency: Agency | None = None


def seed(*, slug="demo", name=None):
    """Creates or refreshes the demo account `slug`; returns the credentials as a dict."""
    slug = slugify(slug) or "demo"
    name = name or ("Demo Entregas" if slug == "demo" else f"Demo {slug.replace('-', ' ').title()}")
    with transaction.atomic():
        account, _ = Account.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "time_zone": TIME_ZONE,
                "language": "pt-br",
                "country": "BR",
                "is_active": True,
            },
        )
        account_load_defaults(account=account)
        branch = _branch(account, BRANCH, "barrafunda")
        campinas = _branch(account, SECOND_BRANCH, "campinas")
        partner, _ = Partner.objects.update_or_create(
            account=account, name=PARTNER["name"], defaults={**PARTNER, "is_active": True}
        )
        carrier, _ = Carrier.objects.update_or_create(
            account=account,
            name=CARRIER["name"],
            defaults={
                **CARRIER,
                "kind": PartyKind.COMPANY,
                "email": f"frota@{account.slug}.example.com",
                "is_active": True,
            },
        )
        people = [
            ("manager", "Marina", "Gestora", Role.MANAGER, MANAGER_PASSWORD, {}),
            ("operator", "Otávio", "Operador", Role.OPERATOR, OPERATOR_PASSWORD, {}),
            ("campinas", "Cecília", "Campos", Role.OPERATOR, OPERATOR_PASSWORD,
             {"branch": campinas}),
            ("partner", "Paula", "Parceira", Role.PARTNER, PARTNER_PASSWORD, {"partner": partner}),
            ("carrier", "Caio", "Transportes", Role.CARRIER, CARRIER_PASSWORD,
             {"carrier": carrier}),
            ("call-centre", "Cíntia", "Atendimento", Role.CALL_CENTRE, CALL_CENTRE_PASSWORD,
             {"chat_carriers": [carrier], "chat_states": ["SP"]}),
            # Integrations call the API with a key: this user has no password to log in with.
            ("integration", "Integração", "ERP", Role.INTEGRATION, None, {}),
        ]  # fmt: skip
        users = [(_user(account, *row), row[4]) for row in people]
        (manager, _), (operator, _) = users[:2]
        drivers = [
            _driver(account, branch, carrier, number, *row)
            for number, row in enumerate(DRIVERS, start=1)
        ]
        agency, _ = Agency.objects.update_or_create(
            account=account,
            name=account.name,
            defaults={"header_colour": AGENCY_COLOUR, "is_active": True},
        )
        agency_create_default_templates(agency=agency, language=account.language)
        context = DemoContext(
            account=account,
            branch=branch,
            manager=manager,
            operator=operator,
            drivers=drivers,
            random=random.Random(slug),
            branches=[branch, campinas],
            partner=partner,
            carrier=carrier,
            agency=agency,
        )
        context.output.update(
            account={"slug": account.slug, "name": account.name},
            manager={"email": manager.email, "password": MANAGER_PASSWORD},
            operator={"email": operator.email, "password": OPERATOR_PASSWORD},
            drivers=[
                {
                    # What the driver app logs in with: <account slug>.<username>.
                    "username": driver.login,
                    "password": DRIVER_PASSWORD,
                    "first_name": driver.first_name,
                    "vehicle_plate": driver.vehicle.plate,
                }
                for driver in drivers
            ],
            users=[
                {"role": user.role, "email": user.email, "password": password}
                for user, password in users
            ],
            api_key=_api_key(account, manager),
        )
        for step in _steps:
            step(context)
    return context.output


def _api_key(account, created_by):
    """A new integration key on every run (a key cannot be read back once created); the demo's
    earlier keys are deleted, so only the last one printed works and none pile up."""
    ApiKey.objects.filter(account=account, name=API_KEY_NAME).delete()
    _created, raw_key = api_key_create(account=account, name=API_KEY_NAME, created_by=created_by)
    return raw_key


def _branch(account, data, mailbox):
    branch, _ = Branch.objects.update_or_create(
        account=account,
        name=data["name"],
        defaults={
            **data,
            "kind": PartyKind.COMPANY,
            "email": f"{mailbox}@{account.slug}.example.com",
            "is_active": True,
        },
    )
    return branch


def _user(account, mailbox, first_name, last_name, role, password, scope):
    """The user `<mailbox>@<slug>.example.com`, in exactly the given scope; no password = none
    usable (the user cannot log in with one)."""
    user, _ = User.objects.update_or_create(
        email=f"{mailbox}@{account.slug}.example.com",
        defaults={
            "account": account,
            "first_name": first_name,
            "last_name": last_name,
            "role": role,
            "branch": scope.get("branch"),
            "partner": scope.get("partner"),
            "carrier": scope.get("carrier"),
            "chat_states": scope.get("chat_states", []),
            "is_active": True,
            "is_superuser": False,
        },
    )
    user.chat_carriers.set(scope.get("chat_carriers", []))
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


def _driver(account, branch, carrier, number, username, first_name, last_name, cpf_base, rg,
            phone, vehicle_type, plate, kg, m3, speed_kmh, contracted):  # fmt: skip
    vehicle, _ = Vehicle.objects.update_or_create(
        account=account,
        plate=plate,
        defaults={
            "type": vehicle_type,
            "capacity_kg": kg,
            "capacity_m3": m3,
            "speed_kmh": speed_kmh,
            "is_active": True,
        },
    )
    # Drivers seeded before usernames were per account were called "<slug>.<username>".
    if not Driver.objects.filter(account=account, username=username).exists():
        Driver.objects.filter(account=account, username=f"{account.slug}.{username}").update(
            username=username
        )
    driver, _ = Driver.objects.update_or_create(
        account=account,
        username=username,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "cpf": br.cpf_with_check_digits(cpf_base),
            "rg": rg,
            "employee_number": f"{number:05d}",
            "email": f"{username}@{account.slug}.example.com",
            "phone": phone,
            "time_zone": TIME_ZONE,
            "external_code": f"MOT-{number:03d}",
            "branch": branch,
            "carrier": carrier if contracted else None,
            "vehicle": vehicle,
            "is_active": True,
        },
    )
    driver.set_password(DRIVER_PASSWORD)
    driver.save(update_fields=["password"])
    vehicle.default_driver = driver
    vehicle.save(update_fields=["default_driver"])
    return driver
