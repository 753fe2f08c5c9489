"""factory_boy factories for the domain's rows."""

from datetime import date, timedelta

import factory
from django.utils import timezone

from accounts.apikeys import api_key_create
from accounts.models import (
    Account,
    Agency,
    ApiKey,
    Branch,
    Carrier,
    ChatTicketType,
    Customer,
    Driver,
    FailureReason,
    Holiday,
    Partner,
    Role,
    StatusChangeReason,
    User,
    Vehicle,
    VehicleType,
)
from services.models import (
    OPEN_STATUSES,
    Service,
    ServiceStatus,
    ServiceType,
    WebhookDelivery,
    WebhookEndpoint,
)

PASSWORD = "correct horse battery staple"


def set_password(obj, create, extracted, **kwargs):
    """Post-generation hook: everyone created by a factory logs in with PASSWORD by default."""
    obj.set_password(extracted or PASSWORD)
    if create:
        obj.save(update_fields=["password"])


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Account {n}")
    slug = factory.Sequence(lambda n: f"account-{n}")
    language = "en"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = Role.OPERATOR

    password = factory.PostGeneration(set_password)


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Branch {n}")
    city = "São Paulo"
    state = "SP"
    lat = -23.55
    lng = -46.63


class VehicleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vehicle

    account = factory.SubFactory(AccountFactory)
    type = VehicleType.CAR
    plate = factory.Sequence(lambda n: f"TST{n % 10}A{n % 100:02d}")


class DriverFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Driver
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    username = factory.Sequence(lambda n: f"driver{n}")
    email = factory.LazyAttribute(lambda driver: f"{driver.username}@drivers.example.com")
    vehicle = factory.SubFactory(VehicleFactory, account=factory.SelfAttribute("..account"))

    password = factory.PostGeneration(set_password)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    account = factory.SubFactory(AccountFactory)
    name = factory.Faker("name")
    phone = factory.Sequence(lambda n: f"+55119{6 + n % 4}{n % 10_000_000:07d}")
    city = "São Paulo"
    state = "SP"


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    account = factory.SubFactory(AccountFactory)
    customer = factory.SubFactory(CustomerFactory, account=factory.SelfAttribute("..account"))
    type = ServiceType.DELIVERY
    status = ServiceStatus.PENDING
    order_number = factory.Sequence(lambda n: f"ORDER-{n:05d}")
    street = "Rua Augusta"
    number = factory.Sequence(lambda n: str(100 + n))
    city = "São Paulo"
    state = "SP"
    lat = -23.55
    lng = -46.65
    deadline = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    # Like the status actions: a service made with an outcome has finished (now).
    finished_at = factory.LazyAttribute(
        lambda service: None if service.status in OPEN_STATUSES else timezone.now()
    )


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Partner {n}")


class CarrierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Carrier

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Carrier {n} Transportes Ltda")
    city = "São Paulo"
    state = "SP"


class HolidayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Holiday

    account = factory.SubFactory(AccountFactory)
    date = factory.Sequence(lambda n: date(2030, 1, 1) + timedelta(days=n))
    name = factory.Sequence(lambda n: f"Holiday {n}")


class StatusChangeReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StatusChangeReason

    account = factory.SubFactory(AccountFactory)
    description = factory.Sequence(lambda n: f"Status reason {n}")


class FailureReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FailureReason

    account = factory.SubFactory(AccountFactory)
    description = factory.Sequence(lambda n: f"Failure reason {n}")


class ChatTicketTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChatTicketType

    account = factory.SubFactory(AccountFactory)
    description = factory.Sequence(lambda n: f"Ticket type {n}")


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Agency {n}")


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    account = factory.SubFactory(AccountFactory)
    url = factory.Sequence(lambda n: f"https://hooks.example.com/{n}")
    description = factory.Sequence(lambda n: f"Endpoint {n}")


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery

    account = factory.SubFactory(AccountFactory)
    endpoint = factory.SubFactory(
        WebhookEndpointFactory, account=factory.SelfAttribute("..account")
    )
    event_type = "ping"
    payload = factory.LazyFunction(lambda: {"type": "ping", "data": {}})


class PackageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "services.Package"

    account = factory.SubFactory(AccountFactory)
    service = factory.SubFactory(ServiceFactory, account=factory.SelfAttribute("..account"))
    barcode = factory.Sequence(lambda n: f"7890000{n:06d}")
    description = ""

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        # A package belongs to its service's account, also when only the service is given.
        kwargs["account"] = kwargs["service"].account
        return kwargs


class ApiKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiKey

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Integration {n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return api_key_create(**kwargs)[0]


# Scheduling -------------------------------------------------------------------------------------

from datetime import time  # noqa: E402


class DeliveryWindowFactory(factory.django.DjangoModelFactory):
    """An account-default window (no branch) on Mondays, 08:00-12:00, for 20 services."""

    class Meta:
        model = "scheduling.DeliveryWindow"

    account = factory.SubFactory(AccountFactory)
    branch = None
    weekday = 0
    name = factory.Sequence(lambda n: f"Window {n}")
    start = factory.LazyFunction(lambda: time(8, 0))
    end = factory.LazyFunction(lambda: time(12, 0))
    capacity = 20


class SchedulingPolicyFactory(factory.django.DjangoModelFactory):
    """A branch's policy (an account has one default policy at most, so a branch by default)."""

    class Meta:
        model = "scheduling.SchedulingPolicy"

    account = factory.SubFactory(AccountFactory)
    branch = factory.SubFactory(BranchFactory, account=factory.SelfAttribute("..account"))
    cutoff_hours = 12
    horizon_days = 14


class RouteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "routes.Route"

    account = factory.SubFactory(AccountFactory)
    driver = factory.SubFactory(DriverFactory, account=factory.SelfAttribute("..account"))
    vehicle = factory.LazyAttribute(lambda route: route.driver.vehicle)
    date = factory.LazyFunction(date.today)
