"""Addresses in the form a message without SMTPUTF8 can carry (RFC 5321 §4.1.2, RFC 5890).

A non-ASCII domain becomes its IDNA A-label form (``bücher.example`` -> ``xn--bcher-kva.example``,
IDNA 2008 with UTS #46 mapping, as ``email-validator`` computes it). A non-ASCII local part has no
ASCII form: such a message needs SMTPUTF8 (RFC 6531), see ``Email.needs_smtputf8``.
"""

from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from application.errors import PermanentDeliveryError


def ascii_address(address: str) -> str:
    """``address`` with its domain as IDNA A-labels. Raises ``PermanentDeliveryError`` when the
    local part is not ASCII or the domain has no A-label form."""
    if address.isascii():
        return address
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        raise PermanentDeliveryError(
            f"SMTPUTF8 is required for {address!r}: its local part is not ASCII"
        )
    return f"{local}@{ascii_domain(domain)}"


@lru_cache(maxsize=1024)
def ascii_domain(domain: str) -> str:
    """The domain as IDNA A-labels. Raises ``PermanentDeliveryError`` when it has none."""
    if domain.isascii():
        return domain
    try:
        checked = validate_email(
            f"postmaster@{domain}", check_deliverability=False, globally_deliverable=False
        )
    except EmailNotValidError as exc:
        raise PermanentDeliveryError(f"domain {domain!r} has no IDNA form: {exc}") from None
    return checked.ascii_domain
