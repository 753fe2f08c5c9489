"""Brazilian identifiers and contact data: CPF, CNPJ, phones (E.164), postal codes, vehicle plates.

Each `normalise_*` returns the canonical stored form or raises ValidationError with a message for
the person who typed it.
"""

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from localflavor.br.validators import BRCNPJValidator, BRCPFValidator

_NON_DIGITS = re.compile(r"\D")
# Old plates (ABC1234) and Mercosul plates (ABC1D23).
_PLATE = re.compile(r"^[A-Z]{3}[0-9][A-Z0-9][0-9]{2}$")


def digits(value):
    return _NON_DIGITS.sub("", value or "")


def normalise_cpf(value):
    return _checked(
        value, 11, BRCPFValidator(), _("A CPF has 11 digits."),
        _("This CPF is not valid (check digits do not match)."), "invalid_cpf",
    )  # fmt: skip


def normalise_cnpj(value):
    return _checked(
        value, 14, BRCNPJValidator(), _("A CNPJ has 14 digits."),
        _("This CNPJ is not valid (check digits do not match)."), "invalid_cnpj",
    )  # fmt: skip


def _checked(value, length, validator, wrong_length, wrong_digits, code):
    number = digits(value)
    if len(number) != length:
        raise ValidationError(wrong_length, code=code)
    try:
        validator(number)
    except ValidationError as exc:
        raise ValidationError(wrong_digits, code=code) from exc
    return number


def normalise_document(value):
    """A CPF (11 digits) or a CNPJ (14 digits), told apart by length."""
    number = digits(value)
    if len(number) == 11:
        return normalise_cpf(number)
    if len(number) == 14:
        return normalise_cnpj(number)
    raise ValidationError(
        _("Type a CPF (11 digits) or a CNPJ (14 digits)."), code="invalid_document"
    )


def format_document(number):
    if len(number) == 11:
        return f"{number[:3]}.{number[3:6]}.{number[6:9]}-{number[9:]}"
    if len(number) == 14:
        return f"{number[:2]}.{number[2:5]}.{number[5:8]}/{number[8:12]}-{number[12:]}"
    return number


def normalise_phone(value, region="BR"):
    """The phone in E.164 (+5511987654321); numbers without a country code are read in region."""
    try:
        parsed = phonenumbers.parse(value, region or "BR")
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("This is not a phone number."), code="invalid_phone") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            _("This phone number is not valid: check the area code and the number of digits."),
            code="invalid_phone",
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_postal_code(value):
    number = digits(value)
    if len(number) != 8:
        raise ValidationError(_("A CEP has 8 digits."), code="invalid_postal_code")
    return f"{number[:5]}-{number[5:]}"


def normalise_plate(value):
    plate = re.sub(r"[\s-]", "", value or "").upper()
    if not _PLATE.match(plate):
        raise ValidationError(_("A plate looks like ABC1234 or ABC1D23."), code="invalid_plate")
    return plate


def cpf_with_check_digits(base):
    """The 11-digit CPF whose first nine digits are `base`."""
    digits = [int(char) for char in base]
    for length in (9, 10):
        total = sum(
            digit * weight for digit, weight in zip(digits, range(length + 1, 1, -1), strict=True)
        )
        digits.append(total * 10 % 11 % 10)
    return "".join(map(str, digits))


def cnpj_with_check_digits(base):
    """The 14-digit CNPJ whose first twelve digits (root and branch number) are `base`."""
    digits = [int(char) for char in base]
    for weights in ([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]):
        remainder = sum(digit * weight for digit, weight in zip(digits, weights, strict=True)) % 11
        digits.append(0 if remainder < 2 else 11 - remainder)
    return "".join(map(str, digits))
