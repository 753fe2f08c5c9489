"""The routes part of the demo: today's pending, unscheduled demo services split by the optimizer
between the demo's own drivers (the carrier's driver is left for the operator to route by hand).
Seeding again adds no route once the demo has one for today."""

from services.actions import Actor
from services.models import Service, ServiceStatus

from .actions import routes_split
from .models import Route
from .planning import Crew

DEMO_ACTOR = Actor.system(label="demo")
ROUTED_SERVICES = 16


def seed_routes(context):
    account = context.account
    today = account.today()
    if Route.objects.filter(account=account, date=today).exists():
        return
    services = list(
        Service.objects.filter(
            account=account,
            status=ServiceStatus.PENDING,
            external_id__startswith="DEMO-",
            schedule__isnull=True,
            lat__isnull=False,
        )
        .select_related("branch", "account")
        .order_by("external_id")[:ROUTED_SERVICES]
    )
    crews = [
        Crew(driver=driver, vehicle=driver.vehicle)
        for driver in context.drivers
        if driver.vehicle_id and driver.carrier_id is None
    ]
    if not services or not crews:
        return
    routes_split(
        account=account,
        actor=DEMO_ACTOR,
        day=today,
        services=services,
        crews=crews,
        branch=context.branch,
        time_limit_s=1,
    )
