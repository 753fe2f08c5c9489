"""The tenant (Account), its users and roles, and the entities an account configures to operate."""

import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

TIME_ZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


class Account(models.Model):
    """A company that runs deliveries: the tenant. Nothing of one account is visible to another."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, choices=TIME_ZONE_CHOICES, default="America/Sao_Paulo"
    )
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="pt-br"
    )
    country = models.CharField(_("country"), max_length=2, default="BR")
    max_attempts = models.PositiveSmallIntegerField(
        _("maximum delivery attempts"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text=_("After this many failed attempts a service is returned to the sender."),
    )
    # What the driver app is told (driver API `me`).
    position_interval_s = models.PositiveSmallIntegerField(
        _("position interval (s)"),
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(600)],
        help_text=_("How often the driver app sends its GPS positions during a route."),
    )
    signature_required = models.BooleanField(
        _("signature required"),
        default=False,
        help_text=_("A delivery can be completed only with the receiver's signature."),
    )
    photo_required = models.BooleanField(
        _("photo required"),
        default=False,
        help_text=_("A delivery can be completed only with a photo."),
    )
    # The customers' Last Mile page and notifications.
    tracking_link_days = models.PositiveSmallIntegerField(
        _("tracking link valid for (days)"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text=_("How long after a service ends its Last Mile link still works."),
    )
    arriving_distance_m = models.PositiveIntegerField(
        _("'driver arriving' distance (m)"),
        default=500,
        validators=[MinValueValidator(50), MaxValueValidator(10000)],
        help_text=_("The customer is told the driver is arriving within this distance..."),
    )
    arriving_minutes = models.PositiveSmallIntegerField(
        _("'driver arriving' minutes"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("...or this many minutes of the ETA, whichever comes first."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["name"]

    def __str__(self):
        return self.name

    @cached_property
    def tzinfo(self):
        return zoneinfo.ZoneInfo(self.time_zone)

    def today(self):
        """Today's date in the account's time zone."""
        return timezone.localdate(timezone=self.tzinfo)


class Role(models.TextChoices):
    MANAGER = "manager", _("Manager")
    OPERATOR = "operator", _("Operator")
    PARTNER = "partner", _("Partner")
    CARRIER = "carrier", _("Carrier")
    CALL_CENTRE = "call_centre", _("Call centre")
    INTEGRATION = "integration", _("Integration")


ONLINE_WINDOW = timedelta(minutes=5)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **fields):
        if not email:
            raise ValueError("Users need an e-mail address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **fields):
        fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **fields)

    def create_superuser(self, email, password=None, **fields):
        """A platform administrator: belongs to no account and sees every account."""
        fields.update(is_superuser=True, account=None, role=Role.MANAGER)
        return self._create_user(email, password, **fields)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs into the web platform by e-mail, in one account, with one role."""

    email = models.EmailField(_("e-mail"), unique=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="users",
        null=True,
        blank=True,
        help_text=_("Empty only for platform administrators."),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.OPERATOR)
    # An optional narrower scope inside the account: one branch, partner or carrier.
    branch = models.ForeignKey(
        "Branch",
        verbose_name=_("branch"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        help_text=_("Only this branch's services and routes are visible."),
    )
    partner = models.ForeignKey(
        "Partner",
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        help_text=_("Partner users see only this partner's services."),
    )
    carrier = models.ForeignKey(
        "Carrier",
        verbose_name=_("carrier"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        help_text=_("Carrier users see only this carrier's services and drivers."),
    )
    # Which chats a call-centre user answers: those of these carriers and these states (UF).
    chat_carriers = models.ManyToManyField(
        "Carrier", verbose_name=_("chat carriers"), blank=True, related_name="chat_users"
    )
    chat_states = models.JSONField(_("chat states (UF)"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=Q(account__isnull=False) | Q(is_superuser=True),
                name="user_account_required_unless_superuser",
            ),
            models.CheckConstraint(
                condition=(
                    Q(branch__isnull=True, partner__isnull=True)
                    | Q(branch__isnull=True, carrier__isnull=True)
                    | Q(partner__isnull=True, carrier__isnull=True)
                ),
                name="user_one_scope_at_most",
            ),
        ]

    def __str__(self):
        return self.get_full_name() or self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self):
        return self.first_name or self.email

    @property
    def is_online(self):
        """Seen in the last ONLINE_WINDOW (the availability list's "online")."""
        return bool(self.last_seen_at and timezone.now() - self.last_seen_at < ONLINE_WINDOW)

    @property
    def is_staff(self):
        """Whether the web admin lets this user in (decided by accounts.access)."""
        from accounts import access

        return access.can_use_admin(self)


class AddressFields(models.Model):
    """A Brazilian-style postal address with its coordinates (WGS84)."""

    street = models.CharField(_("street"), max_length=200, blank=True)
    number = models.CharField(_("number"), max_length=20, blank=True)
    complement = models.CharField(_("complement"), max_length=100, blank=True)
    district = models.CharField(_("district"), max_length=100, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    state = models.CharField(_("state"), max_length=2, blank=True, help_text=_("UF, e.g. SP"))
    postal_code = models.CharField(_("postal code"), max_length=9, blank=True)
    country = models.CharField(
        _("country"), max_length=2, default="BR", blank=True, help_text=_("ISO code, e.g. BR")
    )
    lat = models.FloatField(
        _("latitude"),
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    lng = models.FloatField(
        _("longitude"),
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )

    class Meta:
        abstract = True

    @property
    def address_line(self):
        first = ", ".join(part for part in (self.street, self.number) if part)
        if self.complement:
            first = f"{first} ({self.complement})" if first else self.complement
        place = " - ".join(part for part in (self.city, self.state) if part)
        return " · ".join(part for part in (first, self.district, place) if part)

    @property
    def point(self):
        return None if self.lat is None or self.lng is None else (self.lat, self.lng)


class TenantModel(models.Model):
    """A row owned by one account."""

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE)

    class Meta:
        abstract = True


class PartyKind(models.TextChoices):
    PERSON = "person", _("Person (CPF)")
    COMPANY = "company", _("Company (CNPJ)")


class PartyFields(models.Model):
    """Who a company or a person is: kind, legal name, trade name, document (digits only)."""

    kind = models.CharField(
        _("kind"), max_length=8, choices=PartyKind.choices, default=PartyKind.COMPANY
    )
    name = models.CharField(_("name"), max_length=200)
    trade_name = models.CharField(_("trade name"), max_length=200, blank=True)
    document = models.CharField(
        _("CPF / CNPJ"), max_length=14, blank=True, help_text=_("Digits only are stored.")
    )

    class Meta:
        abstract = True

    @property
    def document_display(self):
        from tracking.lib.br import format_document

        return format_document(self.document)


class ContactFields(models.Model):
    contact_name = models.CharField(_("contact name"), max_length=150, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, help_text=_("E.164"))

    class Meta:
        abstract = True


class Branch(TenantModel, PartyFields, ContactFields, AddressFields):
    """An independent unit of the account; its address is the default start of its routes."""

    prefix = models.CharField(_("prefix"), max_length=10, blank=True)
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        choices=TIME_ZONE_CHOICES,
        blank=True,
        help_text=_("Where the branch's delivery windows are; empty means the account's."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="branch_unique_name"),
        ]

    def __str__(self):
        return self.name


class Partner(TenantModel):
    """A third party whose goods the account moves; its users see only its services."""

    name = models.CharField(_("name"), max_length=200)
    document = models.CharField(_("CPF / CNPJ"), max_length=14, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="partner_unique_name"),
        ]

    def __str__(self):
        return self.name


class Carrier(TenantModel, PartyFields, ContactFields, AddressFields):
    """A transport company (own fleet or third party); its users see its services and drivers."""

    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("carrier")
        verbose_name_plural = _("carriers")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="carrier_unique_name"),
        ]

    def __str__(self):
        return self.trade_name or self.name


class VehicleType(models.TextChoices):
    MOTORBIKE = "motorbike", _("Motorbike")
    CAR = "car", _("Car")
    VAN = "van", _("Van")
    TRUCK = "truck", _("Truck")
    BICYCLE = "bicycle", _("Bicycle")


class Vehicle(TenantModel):
    """What a driver drives, with the capacity and speed route optimization respects."""

    type = models.CharField(_("type"), max_length=12, choices=VehicleType.choices)
    plate = models.CharField(
        _("plate"), max_length=7, help_text=_("ABC1234 or ABC1D23; stored without the hyphen.")
    )
    capacity_kg = models.DecimalField(
        _("capacity (kg)"),
        max_digits=9,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    capacity_m3 = models.DecimalField(
        _("capacity (m³)"),
        max_digits=7,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    speed_kmh = models.PositiveSmallIntegerField(
        _("average speed (km/h)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(5), MaxValueValidator(130)],
        help_text=_("Used to estimate travel times; empty means the vehicle type's default."),
    )
    default_driver = models.ForeignKey(
        "Driver",
        verbose_name=_("default driver"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="default_vehicles",
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")
        ordering = ["plate"]
        constraints = [
            models.UniqueConstraint(fields=["account", "plate"], name="vehicle_unique_plate"),
        ]

    def __str__(self):
        return f"{self.plate} ({self.get_type_display()})"


class Driver(TenantModel):
    """Who carries the goods; logs into the mobile app as <account slug>.<username>."""

    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    cpf = models.CharField(_("CPF"), max_length=11, blank=True)
    rg = models.CharField(_("RG"), max_length=20, blank=True)
    employee_number = models.CharField(_("employee number"), max_length=30, blank=True)
    username = models.CharField(
        _("username"),
        max_length=40,
        validators=[
            RegexValidator(
                r"^[a-z0-9][a-z0-9_-]*$",
                _("Use lower-case letters, digits, hyphens and underscores."),
            )
        ],
        help_text=_(
            "The driver logs into the app as the account's slug, a dot and this username "
            "(e.g. demo.ana)."
        ),
    )
    password = models.CharField(_("password"), max_length=128, blank=True, editable=False)
    email = models.EmailField(_("e-mail"))
    phone = models.CharField(_("phone"), max_length=20, blank=True, help_text=_("E.164"))
    photo = models.ImageField(
        _("photo"),
        upload_to="drivers/",
        blank=True,
        help_text=_("Shown to customers on the Last Mile page."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, choices=TIME_ZONE_CHOICES, blank=True
    )
    external_code = models.CharField(_("external code"), max_length=60, blank=True)
    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), on_delete=models.SET_NULL, null=True, blank=True
    )
    carrier = models.ForeignKey(
        Carrier,
        verbose_name=_("carrier"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="drivers",
    )
    vehicle = models.ForeignKey(
        Vehicle,
        verbose_name=_("usual vehicle"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    is_active = models.BooleanField(_("active"), default=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    # The latest GPS point (by phone time), kept here for the live map.
    last_lat = models.FloatField(null=True, blank=True)
    last_lng = models.FloatField(null=True, blank=True)
    last_position_at = models.DateTimeField(_("last position"), null=True, blank=True)
    battery_pct = models.PositiveSmallIntegerField(_("battery (%)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("driver")
        verbose_name_plural = _("drivers")
        ordering = ["first_name", "last_name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "username"], name="driver_unique_username"),
            models.UniqueConstraint(
                fields=["account", "external_code"],
                condition=~Q(external_code=""),
                name="driver_unique_external_code",
            ),
        ]
        indexes = [models.Index(fields=["account", "external_code"])]

    def __str__(self):
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def login(self):
        """What the driver types in the app: the account's slug, a dot, the username."""
        return f"{self.account.slug}.{self.username}"

    def set_password(self, raw_password):
        self.password = make_password(raw_password)

    def check_password(self, raw_password):
        return check_password(raw_password, self.password)


class DeviceKind(models.TextChoices):
    APP = "app", _("Driver app")
    # A tracker app (OsmAnd protocol, e.g. Traccar Client) that only sends positions; its token
    # is the tracker key of accounts.trackers, and device_id holds the key's visible prefix.
    TRACKER = "tracker", _("Tracker app")


class DriverDevice(models.Model):
    """One phone a driver logged into, or the driver's tracker key; its token is stored hashed
    and can be revoked."""

    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="devices")
    kind = models.CharField(
        _("kind"), max_length=10, choices=DeviceKind.choices, default=DeviceKind.APP
    )
    device_id = models.CharField(_("device id"), max_length=120)
    name = models.CharField(_("device name"), max_length=120, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("driver device")
        verbose_name_plural = _("driver devices")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["driver", "revoked_at"])]
        constraints = [
            # A new tracker key replaces the old one: at most one live key per driver.
            models.UniqueConstraint(
                fields=["driver"],
                condition=Q(kind="tracker", revoked_at__isnull=True),
                name="driverdevice_one_live_tracker_key",
            ),
        ]

    def __str__(self):
        return self.name or self.device_id


class Customer(TenantModel, AddressFields):
    """Who receives or hands over goods; never logs in."""

    kind = models.CharField(
        _("kind"), max_length=8, choices=PartyKind.choices, default=PartyKind.PERSON
    )
    name = models.CharField(_("name"), max_length=200)
    trade_name = models.CharField(_("trade name"), max_length=200, blank=True)
    document = models.CharField(_("CPF / CNPJ"), max_length=14, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, help_text=_("E.164"))
    external_code = models.CharField(_("external code"), max_length=60, blank=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Of the Last Mile page and the messages; the account's when blank."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_code"],
                condition=~Q(external_code=""),
                name="customer_unique_external_code",
            ),
        ]
        # Imports and integrations look customers up by external code, document or e-mail (any
        # case): without the last index each new customer of an import scanned the account's.
        indexes = [
            models.Index(fields=["account", "document"]),
            models.Index(fields=["account", "external_code"]),
            models.Index(F("account"), Upper("email"), name="customer_account_email_upper"),
        ]

    def __str__(self):
        return self.name

    @property
    def first_name(self):
        return self.name.split()[0] if self.name else ""

    @property
    def document_display(self):
        from tracking.lib.br import format_document

        return format_document(self.document)

    @property
    def language_code(self):
        """The language the customer is shown and sent things in: their own, else the account's
        (load the account with the customer: this reads it)."""
        return self.language or self.account.language


def supported_language(text):
    """The code in settings.LANGUAGES that text names, or None: case and "_" or "-" do not
    matter, and a language without (or with another) region is its supported variant ("pt" and
    "pt_BR" are "pt-br", "es-AR" is "es")."""
    code = str(text or "").strip().lower().replace("_", "-")
    codes = [known for known, _name in settings.LANGUAGES]
    if code in codes:
        return code
    base = code.split("-")[0]
    for known in codes:
        if base and known.split("-")[0] == base:
            return known
    return None


class Holiday(TenantModel):
    """A day without deliveries: removed from the days offered for (re)scheduling."""

    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["account", "date"], name="holiday_unique_date"),
        ]

    def __str__(self):
        return f"{self.date:%Y-%m-%d} {self.name}"


class DescriptionList(TenantModel):
    """A list entry the account picks from: a description that can be switched off."""

    description = models.CharField(_("description"), max_length=200)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        abstract = True
        ordering = ["description"]

    def __str__(self):
        return self.description


class StatusChangeReason(DescriptionList):
    """Why an operator changed a status by hand; required on every manual change."""

    class Meta(DescriptionList.Meta):
        verbose_name = _("reason for status change")
        verbose_name_plural = _("reasons for status change")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "description"], name="statuschangereason_unique"
            ),
        ]


class FailureReason(DescriptionList):
    """Why a delivery could not be done."""

    opens_chat = models.BooleanField(
        _("opens a chat"), default=False, help_text=_("Choosing it opens a chat with support.")
    )
    requires_description = models.BooleanField(
        _("requires a description"),
        default=False,
        help_text=_("The driver must type what happened."),
    )
    customer_fault = models.BooleanField(
        _("customer's fault"),
        default=False,
        help_text=_("The customer can reschedule the delivery."),
    )

    class Meta(DescriptionList.Meta):
        verbose_name = _("failure reason")
        verbose_name_plural = _("failure reasons")
        constraints = [
            models.UniqueConstraint(fields=["account", "description"], name="failurereason_unique"),
        ]


class ChatTicketType(DescriptionList):
    """How a driver's chat was resolved."""

    reversible = models.BooleanField(
        _("reversible"),
        default=False,
        help_text=_("Can turn a failure into a success (e.g. the customer came back)."),
    )

    class Meta(DescriptionList.Meta):
        verbose_name = _("chat ticket type")
        verbose_name_plural = _("chat ticket types")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "description"], name="chattickettype_unique"
            ),
        ]


HEX_COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #0D6EFD."))


class Agency(TenantModel):
    """A brand the customer sees: logo, colour, and the messages sent for each trigger."""

    name = models.CharField(_("name"), max_length=120)
    logo = models.ImageField(_("logo"), upload_to="agencies/", blank=True)
    header_colour = models.CharField(
        _("header colour"), max_length=7, default="#0D6EFD", validators=[HEX_COLOUR]
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="agency_unique_name"),
        ]

    def __str__(self):
        return self.name


class Trigger(models.TextChoices):
    SERVICE_REGISTERED = "service_registered", _("Service registered")
    # A delivery date and window set or changed (first set or rescheduled), whoever chose it.
    RESCHEDULED = "rescheduled", _("Delivery date set")
    ROUTE_STARTED = "route_started", _("Route started")
    DELIVERY_STARTED = "delivery_started", _("Delivery started")
    DRIVER_ARRIVING = "driver_arriving", _("Driver arriving")
    DELIVERED = "delivered", _("Delivered")
    DELIVERY_FAILED = "delivery_failed", _("Delivery failed")
    OUT_OF_DEADLINE = "out_of_deadline", _("Out of deadline")
    ITINERANT_ROUTE = "itinerant_route", _("Itinerant route")


class NotificationTemplate(models.Model):
    """What an agency sends for one trigger: an SMS and an e-mail, each switchable on and off."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="templates")
    trigger = models.CharField(_("trigger"), max_length=24, choices=Trigger.choices)
    sms_enabled = models.BooleanField(_("send SMS"), default=False)
    sms_body = models.TextField(_("SMS text"), blank=True)
    email_enabled = models.BooleanField(_("send e-mail"), default=False)
    email_subject = models.CharField(_("e-mail subject"), max_length=200, blank=True)
    email_text = models.TextField(_("e-mail text"), blank=True)
    email_html = models.TextField(_("e-mail HTML"), blank=True)

    class Meta:
        verbose_name = _("notification template")
        verbose_name_plural = _("notification templates")
        ordering = ["agency", "trigger"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "trigger"], name="notificationtemplate_unique_trigger"
            ),
        ]

    def __str__(self):
        return f"{self.agency} · {self.get_trigger_display()}"


class ApiKey(TenantModel):
    """A named key an integration sends as `Authorization: Bearer <key>`; stored hashed."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        "User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self):
        return self.revoked_at is None


class IdempotencyKey(models.Model):
    """The first response to a write sent with an Idempotency-Key, replayed for repeats."""

    # Who sent it: "api:<key id>" or "device:<device id>", so keys of different callers never meet.
    caller = models.CharField(max_length=60)
    key = models.CharField(max_length=200)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["caller", "key"], name="idempotencykey_unique"),
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self):
        return f"{self.caller} {self.key}"


class ImportJobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(TenantModel):
    """One uploaded spreadsheet imported in the background: its progress and its report."""

    kind = models.CharField(
        _("kind"), max_length=30, help_text=_("What the rows are, e.g. services.")
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ImportJobStatus.choices,
        default=ImportJobStatus.QUEUED,
    )
    created_by = models.ForeignKey(
        "User",
        verbose_name=_("imported by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    rejected_count = models.PositiveIntegerField(_("rejected"), default=0)
    # The rejected rows with their reasons (all of them), the columns read and ignored; accepted
    # rows are only counted.
    report = models.JSONField(_("report"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True, help_text=_("Why the whole file was refused."))
    # Each run that claims the job takes the next attempt; a run whose attempt is no longer the
    # job's (another run took over a stalled job) stops before committing anything more.
    attempt = models.PositiveSmallIntegerField(default=0, editable=False)
    progress_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ImportJobStatus.values), name="importjob_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["account", "kind", "created_at"])]

    def __str__(self):
        return self.original_name or f"#{self.pk}"

    @property
    def is_finished(self):
        return self.status in (ImportJobStatus.DONE, ImportJobStatus.FAILED)

    @property
    def progress_percent(self):
        if self.status == ImportJobStatus.DONE:
            return 100
        if not self.total_rows:
            return 0
        return min(100, self.processed_rows * 100 // self.total_rows)
