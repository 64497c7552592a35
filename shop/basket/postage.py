"""Delivery regions and postage, from the ``POSTAGE_REGIONS`` table in config."""

from dataclasses import dataclass
from typing import Any

from shop.errors import BasketError


@dataclass(frozen=True)
class Region:
    key: str
    label: str
    countries: tuple[str, ...]
    bands: tuple[tuple[int | None, int], ...]  # (up to this many copies, postage in pence)

    def postage_pence(self, copies: int) -> int:
        """Postage for ``copies`` copies; nothing to post costs nothing."""
        if copies <= 0:
            return 0
        for up_to, pence in self.bands:
            if up_to is None or copies <= up_to:
                return pence
        raise ValueError(f"postage table for {self.key} has no band for {copies} copies")

    def band_rows(self) -> list[tuple[str, int]]:
        """The bands as people read them: ``[("1 copy", 250), ("2 to 3 copies", 395), …]``."""
        rows = []
        after = 0  # the band before this one ended at this many copies
        for up_to, pence in self.bands:
            first = after + 1
            if up_to is None:
                label = f"{first} or more copies" if first > 1 else "Any number of copies"
            elif up_to == first:
                label = f"{first} cop{'y' if first == 1 else 'ies'}"
            else:
                label = f"{first} to {up_to} copies"
            rows.append((label, pence))
            after = up_to or after
        return rows


def regions(table: dict[str, dict[str, Any]]) -> list[Region]:
    return [
        Region(key, spec["label"], tuple(spec["countries"]), tuple(map(tuple, spec["bands"])))
        for key, spec in table.items()
    ]


def find_region(table: dict[str, dict[str, Any]], key: str) -> Region:
    for region in regions(table):
        if region.key == key:
            return region
    raise BasketError("Please choose a delivery region from the list.")
