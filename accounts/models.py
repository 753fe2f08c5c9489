"""The tenant (Account), its users and roles, and the entities an account configures to operate."""

import zoneinfo

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
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


class Branch(TenantModel, AddressFields):
    """An independent unit of the account; its address is the default start of its routes."""

    name = models.CharField(_("name"), max_length=120)
    prefix = models.CharField(_("prefix"), max_length=10, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
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


class VehicleType(models.TextChoices):
    MOTORBIKE = "motorbike", _("Motorbike")
    CAR = "car", _("Car")
    VAN = "van", _("Van")
    TRUCK = "truck", _("Truck")
    BICYCLE = "bicycle", _("Bicycle")


class Vehicle(TenantModel):
    """What a driver drives, with the capacity route optimization respects."""

    type = models.CharField(_("type"), max_length=12, choices=VehicleType.choices)
    plate = models.CharField(_("plate"), max_length=10)
    capacity_kg = models.DecimalField(
        _("capacity (kg)"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    capacity_m3 = models.DecimalField(
        _("capacity (m³)"), max_digits=7, decimal_places=3, null=True, blank=True
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
    """Who carries the goods; logs into the mobile app with a username and password."""

    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    username = models.CharField(
        _("username"),
        max_length=60,
        unique=True,
        help_text=_("What the driver types in the app; unique across the platform."),
    )
    password = models.CharField(_("password"), max_length=128, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), on_delete=models.SET_NULL, null=True, blank=True
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

    class Meta:
        verbose_name = _("driver")
        verbose_name_plural = _("drivers")
        ordering = ["first_name", "last_name"]

    def __str__(self):
        return f"{self.first_name} {self.last_name}".strip()

    def set_password(self, raw_password):
        self.password = make_password(raw_password)

    def check_password(self, raw_password):
        return check_password(raw_password, self.password)


class CustomerKind(models.TextChoices):
    PERSON = "person", _("Person (CPF)")
    COMPANY = "company", _("Company (CNPJ)")


class Customer(TenantModel, AddressFields):
    """Who receives or hands over goods; never logs in."""

    kind = models.CharField(
        _("kind"), max_length=8, choices=CustomerKind.choices, default=CustomerKind.PERSON
    )
    name = models.CharField(_("name"), max_length=200)
    document = models.CharField(_("CPF / CNPJ"), max_length=18, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    external_code = models.CharField(_("external code"), max_length=60, blank=True)
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

    def __str__(self):
        return self.name
