"""Who sells: the seller's identity from config (``SELLER_*``), as pages, emails, the packing slip
and the receipt show it. Read once per app; nothing here touches the database."""

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Seller:
    name: str
    address: str  # lines separated by commas or line breaks
    email: str
    phone: str | None = None
    vat_number: str | None = None
    registration: str | None = None  # company or charity number, as the publisher words it
    # The alternative dispute resolution body the seller uses, if any, as it should read (its
    # name and web address): the terms must say which, or that there is none.
    adr: str | None = None

    @property
    def address_lines(self) -> list[str]:
        return [part.strip() for part in re.split(r"[,\n]", self.address) if part.strip()]

    @property
    def address_one_line(self) -> str:
        return ", ".join(self.address_lines)

    @property
    def phone_uri(self) -> str:
        """The number for a ``tel:`` link (RFC 3966): digits, and a leading + if written, without
        the "(0)" UK numbers carry after their country code (+44 (0)20 … dials +4420 …)."""
        written = re.sub(r"\(\s*0\s*\)", "", self.phone or "")
        digits = re.sub(r"\D", "", written)
        return ("+" if written.strip().startswith("+") else "") + digits


def seller_from_config(config: Any) -> Seller:
    """The seller as configured; a development shop has example values (see shop.config)."""
    return Seller(
        name=config.get("SELLER_NAME") or "",
        address=config.get("SELLER_ADDRESS") or "",
        email=config.get("SELLER_EMAIL") or "",
        phone=config.get("SELLER_PHONE") or None,
        vat_number=config.get("SELLER_VAT_NUMBER") or None,
        registration=config.get("SELLER_REGISTRATION") or None,
        adr=config.get("SELLER_ADR") or None,
    )
