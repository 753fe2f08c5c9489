"""Two accounts with one of every tenant object, for the tests that attack one from the other.

Every name of the other account carries MARK, so a response that shows any of its data is caught
by one substring check.
"""

from dataclasses import dataclass, field

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.apikeys import api_key_create
from accounts.devices import device_login
from accounts.models import ImportJob, Role
from lastmile.models import Channel, OutboxMessage, Rating
from reports.models import ExportJob
from routes import actions as route_actions
from routes import chat
from routes.models import MessageAuthor, PlanningJob
from services.actions import Actor
from tests import factories as f

# In every name of the victim account; random tokens never spell it (it has a lower-case letter
# between upper-case ones, and CSRF tokens and nonces are not long enough to matter anyway).
MARK = "ZqxMarkOfRival"

PERSONA_ROLES = [
    Role.MANAGER,
    Role.OPERATOR,
    Role.PARTNER,
    Role.CARRIER,
    Role.CALL_CENTRE,
    Role.INTEGRATION,
]


@dataclass
class World:
    """One account's rows: `objects` maps each model to one of its rows."""

    account: object
    objects: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    api_key: str = ""
    device_token: str = ""

    def __getitem__(self, model):
        return self.objects[model]


def build(slug, tag):
    """An account named with `tag` and one row of each kind; users of every role."""
    account = f.AccountFactory(slug=slug, name=f"{tag} Cargo Account")
    branch = f.BranchFactory(account=account, name=f"{tag} Depot")
    partner = f.PartnerFactory(account=account, name=f"{tag} Partner")
    carrier = f.CarrierFactory(account=account, name=f"{tag} Carrier")
    driver = f.DriverFactory(
        account=account,
        first_name=f"{tag}Driver",
        last_name="Thorncastle",
        username="walker",
        branch=branch,
        carrier=carrier,
    )
    customer = f.CustomerFactory(account=account, name=f"{tag} Customer Bluebottle")
    services = [
        f.ServiceFactory(
            account=account,
            customer=customer,
            branch=branch,
            partner=partner,
            carrier=carrier,
            order_number=f"{tag}-ORDER-{n}",
        )
        for n in range(3)
    ]
    service = services[0]
    package = f.PackageFactory(service=service, description=f"{tag} package")
    route = route_actions.route_create(
        account=account,
        actor=Actor.system(),
        driver=driver,
        vehicle=driver.vehicle,
        day=timezone.localdate(),
        services=services[:2],
        branch=branch,
    )
    route_actions.route_start(route=route, actor=Actor.for_driver(driver))
    stop = route.stops.get(sequence=1)
    conversation = chat.conversation_open(route=route)
    chat.message_post(
        conversation=conversation, author=MessageAuthor.DRIVER, text=f"{tag} chat message"
    )
    users = {
        role: f.UserFactory(
            account=account,
            role=role,
            email=f"{role}@{slug}.test",
            first_name=f"{tag}{role}",
            partner=partner if role == Role.PARTNER else None,
            carrier=carrier if role == Role.CARRIER else None,
        )
        for role in PERSONA_ROLES
    }
    manager = users[Role.MANAGER]
    endpoint = f.WebhookEndpointFactory(account=account, description=f"{tag} endpoint")
    api_key, raw_key = api_key_create(account=account, name=f"{tag} ERP key")
    _device, device_token = device_login(
        login=driver.login, password=f.PASSWORD, device_id=f"{slug}-phone"
    )
    objects = {
        type(account): account,
        type(manager): manager,
        type(branch): branch,
        type(partner): partner,
        type(carrier): carrier,
        type(driver): driver,
        type(driver.vehicle): driver.vehicle,
        type(customer): customer,
        type(service): service,
        type(package): package,
        type(route): route,
        type(stop): stop,
        type(conversation): conversation,
        type(endpoint): endpoint,
        type(api_key): api_key,
        f.HolidayFactory._meta.model: f.HolidayFactory(account=account, name=f"{tag} holiday"),
        f.StatusChangeReasonFactory._meta.model: f.StatusChangeReasonFactory(
            account=account, description=f"{tag} status reason"
        ),
        f.FailureReasonFactory._meta.model: f.FailureReasonFactory(
            account=account, description=f"{tag} failure reason"
        ),
        f.ChatTicketTypeFactory._meta.model: f.ChatTicketTypeFactory(
            account=account, description=f"{tag} ticket type"
        ),
        f.AgencyFactory._meta.model: f.AgencyFactory(account=account, name=f"{tag} Agency"),
        f.WebhookDeliveryFactory._meta.model: f.WebhookDeliveryFactory(
            account=account, endpoint=endpoint, payload={"note": f"{tag} payload"}
        ),
        f.DeliveryWindowFactory._meta.model: f.DeliveryWindowFactory(
            account=account, name=f"{tag} window"
        ),
        f.SchedulingPolicyFactory._meta.model: f.SchedulingPolicyFactory(
            account=account, branch=branch
        ),
        PlanningJob: PlanningJob.objects.create(
            account=account, date=timezone.localdate(), error=f"{tag} planning error"
        ),
        ImportJob: ImportJob.objects.create(
            account=account,
            kind="services",
            created_by=manager,
            file=f"imports/{slug}.csv",
            original_name=f"{tag}-import.csv",
            error=f"{tag} import error",
        ),
        OutboxMessage: OutboxMessage.objects.create(
            account=account,
            service=service,
            trigger="delivered",
            channel=Channel.SMS,
            to=service.customer.phone,
            body=f"{tag} outbox body",
        ),
        ExportJob: ExportJob.objects.create(
            account=account,
            report="deliveries",
            format="csv",
            created_by=manager,
            error=f"{tag} export error",
        ),
        Rating: Rating.objects.create(
            account=account, service=services[2], stars=2, comment=f"{tag} rating comment"
        ),
    }
    # Rows outside any account that the web admin lists: login records naming the victim's
    # e-mail, and a permission group.
    email = manager.email
    objects[AccessAttempt] = AccessAttempt.objects.create(
        username=email, ip_address="10.9.9.9", user_agent=f"{tag} agent", failures_since_start=1
    )
    objects[AccessLog] = AccessLog.objects.create(
        username=email, ip_address="10.9.9.9", user_agent=f"{tag} agent"
    )
    objects[AccessFailureLog] = AccessFailureLog.objects.create(
        username=email, ip_address="10.9.9.9", user_agent=f"{tag} agent", locked_out=False
    )
    objects[Group] = Group.objects.get_or_create(name=f"{tag} group")[0]
    return World(
        account=account,
        objects=objects,
        users=users,
        api_key=raw_key,
        device_token=device_token,
    )
