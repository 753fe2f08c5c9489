"""The services part of the demo: customers (CPF or CNPJ) and pending services in São Paulo."""

from datetime import datetime, time, timedelta
from decimal import Decimal

from accounts.demo import random_cnpj, random_cpf, random_mobile
from accounts.models import Customer, PartyKind

from .actions import Actor, service_create, service_update
from .models import Service, ServiceType

# Districts of São Paulo with a point near their centre: services scatter around them.
DISTRICTS = [
    ("Pinheiros", "05422-000", -23.5669, -46.6917),
    ("Vila Mariana", "04101-000", -23.5894, -46.6342),
    ("Mooca", "03104-000", -23.5576, -46.5994),
    ("Santana", "02012-000", -23.5020, -46.6256),
    ("Tatuapé", "03310-000", -23.5403, -46.5760),
    ("Lapa", "05068-000", -23.5224, -46.7042),
    ("Butantã", "05503-000", -23.5718, -46.7082),
    ("Ipiranga", "04216-000", -23.5893, -46.6069),
    ("Perdizes", "05014-000", -23.5371, -46.6786),
    ("Bela Vista", "01310-000", -23.5614, -46.6558),
]
STREETS = [
    "Rua das Flores",
    "Avenida Brasil",
    "Rua Augusta",
    "Rua da Consolação",
    "Rua Vergueiro",
    "Rua Cardeal Arcoverde",
    "Rua Tuiuti",
    "Rua Voluntários da Pátria",
    "Rua Teodoro Sampaio",
    "Avenida Paulista",
]
FIRST_NAMES = [
    "João",
    "Maria",
    "Pedro",
    "Juliana",
    "Lucas",
    "Fernanda",
    "Rafael",
    "Patrícia",
    "Gabriel",
    "Camila",
    "Thiago",
    "Beatriz",
]
LAST_NAMES = ["Silva", "Santos", "Oliveira", "Pereira", "Costa", "Rodrigues", "Almeida", "Nunes"]
SERVICE_COUNT = 24
DESCRIPTIONS = [
    "",
    "Deixar com o porteiro se o cliente não estiver.",
    "Caixa frágil: não empilhar.",
    "Interfone 12; subir pela escada lateral.",
    "Entregar no horário comercial.",
]
DEMO_ACTOR = Actor.system("demo")
# Every COMPANY_EVERY-th customer is a company (CNPJ): a shop or an office, not a person.
COMPANY_EVERY = 6


def seed_services(context):
    rng = context.random
    account = context.account
    tomorrow = account.today() + timedelta(days=1)
    for number in range(1, SERVICE_COUNT + 1):
        district, postal_code, lat, lng = DISTRICTS[(number - 1) % len(DISTRICTS)]
        address = {
            "street": rng.choice(STREETS),
            "number": str(rng.randint(10, 2999)),
            "district": district,
            "city": "São Paulo",
            "state": "SP",
            "postal_code": postal_code,
            # Within about 1.5 km of the district's centre.
            "lat": round(lat + rng.uniform(-0.013, 0.013), 6),
            "lng": round(lng + rng.uniform(-0.013, 0.013), 6),
        }
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        if number % COMPANY_EVERY == 0:
            party = {
                "kind": PartyKind.COMPANY,
                "name": f"{last} & {rng.choice(LAST_NAMES)} Comércio Ltda",
                "trade_name": f"Empório {last}",
                "document": random_cnpj(rng),
            }
        else:
            party = {
                "kind": PartyKind.PERSON,
                "name": f"{first} {last}",
                "trade_name": "",
                "document": random_cpf(rng),
            }
        customer, _ = Customer.objects.update_or_create(
            account=account,
            external_code=f"DEMO-C{number:03d}",
            defaults={
                **party,
                "email": f"cliente{number:03d}@{account.slug}.example.com",
                "phone": random_mobile(rng),
                **address,
            },
        )
        deadline = datetime.combine(tomorrow, time(18), tzinfo=account.tzinfo)
        values = {
            "type": ServiceType.PICKUP if number % 8 == 0 else ServiceType.DELIVERY,
            "customer": customer,
            "agency": getattr(context, "agency", None),
            "branch": context.branch,
            "partner": getattr(context, "partner", None) if number % 3 == 0 else None,
            "order_number": f"PED-{number:05d}",
            "invoice_number": f"{40000 + number}",
            "invoice_series": "1",
            "description": rng.choice(DESCRIPTIONS),
            "weight_kg": Decimal(rng.randint(2, 150)) / 10,
            "volume_m3": Decimal(rng.randint(2, 400)) / 10000,
            "declared_value": Decimal(rng.randint(2990, 89990)) / 100,
            "service_time_min": rng.choice([3, 5, 5, 8, 10]),
            "deadline": deadline,
            **address,
            "external_id": f"DEMO-{number:04d}",
        }
        packages = [
            {"barcode": f"DEMO{number:04d}{index}", "description": ""}
            for index in range(1, 1 + (2 if number % 5 == 0 else 1))
        ]
        existing = Service.objects.filter(account=account, external_id=values["external_id"])
        service = existing.first()
        if service is None:
            service_create(account=account, actor=DEMO_ACTOR, values=values, packages=packages)
        elif service.is_editable:
            service_update(service=service, actor=DEMO_ACTOR, values=values, packages=packages)
