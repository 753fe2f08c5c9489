"""Demo data: an account with users, a branch, drivers and vehicles; other apps add theirs.

Apps higher up register a step with `register` in their AppConfig.ready(); `seed` runs the base and
then every step, in one transaction. Running it again refreshes the same rows, duplicating none.
"""

import random
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.text import slugify

from .models import Account, Branch, Driver, Role, User, Vehicle, VehicleType

MANAGER_PASSWORD = "demo-manager"
OPERATOR_PASSWORD = "demo-operator"
DRIVER_PASSWORD = "demo-driver"

# São Paulo: the branch sits in Barra Funda, services spread over the city around it.
BRANCH = {
    "name": "São Paulo - Barra Funda",
    "prefix": "SP",
    "street": "Rua James Holland",
    "number": "422",
    "district": "Barra Funda",
    "city": "São Paulo",
    "state": "SP",
    "postal_code": "01138-000",
    "lat": -23.5259,
    "lng": -46.6634,
}
DRIVERS = [
    # key, first name, last name, phone, vehicle type, plate, capacity kg, capacity m³
    ("ana", "Ana", "Souza", "+5511990000001", VehicleType.MOTORBIKE, "DEM1A01", 30, "0.150"),
    ("bruno", "Bruno", "Lima", "+5511990000002", VehicleType.CAR, "DEM2B02", 300, "1.200"),
    ("carla", "Carla", "Mendes", "+5511990000003", VehicleType.VAN, "DEM3C03", 1200, "8.000"),
]

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


def seed(*, slug="demo", name=None):
    """Creates or refreshes the demo account `slug`; returns the credentials as a dict."""
    slug = slugify(slug) or "demo"
    name = name or ("Demo Entregas" if slug == "demo" else f"Demo {slug.replace('-', ' ').title()}")
    with transaction.atomic():
        account, _ = Account.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "time_zone": "America/Sao_Paulo",
                "language": "pt-br",
                "country": "BR",
                "is_active": True,
            },
        )
        manager = _user(account, "manager", "Marina", "Gestora", Role.MANAGER, MANAGER_PASSWORD)
        operator = _user(
            account, "operator", "Otávio", "Operador", Role.OPERATOR, OPERATOR_PASSWORD
        )
        branch, _ = Branch.objects.update_or_create(
            account=account, name=BRANCH["name"], defaults={**BRANCH, "is_active": True}
        )
        drivers = [_driver(account, branch, *row) for row in DRIVERS]
        context = DemoContext(
            account=account,
            branch=branch,
            manager=manager,
            operator=operator,
            drivers=drivers,
            random=random.Random(slug),
        )
        context.output.update(
            account={"slug": account.slug, "name": account.name},
            manager={"email": manager.email, "password": MANAGER_PASSWORD},
            operator={"email": operator.email, "password": OPERATOR_PASSWORD},
            drivers=[
                {
                    "username": driver.username,
                    "password": DRIVER_PASSWORD,
                    "first_name": driver.first_name,
                    "vehicle_plate": driver.vehicle.plate,
                }
                for driver in drivers
            ],
        )
        for step in _steps:
            step(context)
    return context.output


def _user(account, kind, first_name, last_name, role, password):
    user, _ = User.objects.update_or_create(
        email=f"{kind}@{account.slug}.example.com",
        defaults={
            "account": account,
            "first_name": first_name,
            "last_name": last_name,
            "role": role,
            "is_active": True,
            "is_superuser": False,
        },
    )
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def _driver(account, branch, key, first_name, last_name, phone, vehicle_type, plate, kg, m3):
    vehicle, _ = Vehicle.objects.update_or_create(
        account=account,
        plate=plate,
        defaults={"type": vehicle_type, "capacity_kg": kg, "capacity_m3": m3, "is_active": True},
    )
    driver, _ = Driver.objects.update_or_create(
        username=f"{account.slug}.{key}",
        defaults={
            "account": account,
            "first_name": first_name,
            "last_name": last_name,
            "email": f"{key}@{account.slug}.example.com",
            "phone": phone,
            "branch": branch,
            "vehicle": vehicle,
            "is_active": True,
        },
    )
    driver.set_password(DRIVER_PASSWORD)
    driver.save(update_fields=["password"])
    return driver
