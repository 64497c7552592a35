"""The ONIX for Books codes this shop uses, with their words: one place for every code list.

Codes and their meanings are EDItEUR's (ONIX for Books code lists, issue 75, as shipped in the
ONIX 3.0 schema that tests/catalogue/test_onix_export.py validates against). Each list holds only
the codes the shop reads, writes or offers staff; the words are short forms of EDItEUR's, as
staff see them beside the code. Thema subject codes are checked for shape here (the Thema
scheme has thousands of codes); ``THEMA_SUBJECTS`` names the few a health-policy list uses most,
so that the page and the staff form can show them in words.
"""

# List 64: publishing status (PublishingDetail/PublishingStatus).
PUBLISHING_STATUSES: dict[str, str] = {
    "00": "Unspecified",
    "01": "Cancelled",
    "02": "Forthcoming",
    "03": "Postponed indefinitely",
    "04": "Active",
    "05": "No longer our product",
    "06": "Out of stock indefinitely",
    "07": "Out of print",
    "08": "Inactive",
    "09": "Unknown",
    "10": "Remaindered",
    "11": "Withdrawn from sale",
    "15": "Recalled",
    "16": "Temporarily withdrawn from sale",
    "17": "Permanently withdrawn from sale",
}
FORTHCOMING = "02"
ACTIVE = "04"
# Not on sale for now, with no date: postponed indefinitely, or temporarily withdrawn.
PAUSED_STATUSES = frozenset({"03", "16"})
# Not to be sold again in this form: the publisher takes no more orders.
ENDED_STATUSES = frozenset({"01", "05", "06", "07", "08", "10", "11", "15", "17"})

# List 65: product availability (ProductSupply/SupplyDetail/ProductAvailability).
AVAILABILITIES: dict[str, str] = {
    "01": "Cancelled",
    "09": "Not yet available, postponed indefinitely",
    "10": "Not yet available",
    "11": "Awaiting stock",
    "12": "Not yet available, will be print on demand",
    "20": "Available",
    "21": "In stock",
    "22": "To order",
    "23": "Print on demand",
    "30": "Temporarily unavailable",
    "31": "Out of stock",
    "32": "Reprinting",
    "33": "Awaiting reissue",
    "34": "Temporarily withdrawn from sale",
    "40": "Not available (reason unspecified)",
    "41": "Not available, replaced by new product",
    "42": "Not available, other format available",
    "43": "No longer supplied by us",
    "44": "Apply direct",
    "45": "Not sold separately",
    "46": "Withdrawn from sale",
    "47": "Remaindered",
    "48": "Not available, replaced by print on demand",
    "49": "Recalled",
    "50": "Not sold as set",
    "51": "Not available, publisher indicates out of print",
    "52": "Not available in this market",
    "99": "Contact supplier",
}
IN_STOCK = "21"
OUT_OF_STOCK = "31"
REPRINTING = "32"
NOT_YET_AVAILABLE = frozenset({"10", "11", "12"})
# Sold from the shelf: a copy can be bought while stock lasts.
SOLD_FROM_STOCK = frozenset({"20", "21", "22", "23"})
# To order (22) and print on demand (23): copies are made when ordered, so an empty shelf is no
# reason to stop selling.
MADE_TO_ORDER = frozenset({"22", "23"})
# Out of stock for now: bought ahead (a back-order) when a date is known, else "notify me".
TEMPORARILY_UNAVAILABLE = frozenset({"30", "31", "32", "33", "34"})
# Cancelled, and 40 to 52: not available from us any more. (09, 99 and anything else: not now,
# reason or date unknown.)
NO_LONGER_SUPPLIED = frozenset({"01", *(code for code in AVAILABILITIES if "40" <= code <= "52")})

# List 17: contributor role (Contributor/ContributorRole), as staff and readers name them:
# code -> (one, more than one).
CONTRIBUTOR_ROLES: dict[str, tuple[str, str]] = {
    "A01": ("Author", "Authors"),
    "A02": ("With", "With"),
    "A12": ("Illustrator", "Illustrators"),
    "A13": ("Photographs by", "Photographs by"),
    "A15": ("Preface by", "Preface by"),
    "A19": ("Afterword by", "Afterword by"),
    "A20": ("Notes by", "Notes by"),
    "A21": ("Commentary by", "Commentaries by"),
    "A23": ("Foreword by", "Foreword by"),
    "A24": ("Introduction by", "Introduction by"),
    "A29": ("Introduction and notes by", "Introduction and notes by"),
    "A32": ("Contributions by", "Contributions by"),
    "A33": ("Appendix by", "Appendix by"),
    "A34": ("Index by", "Index by"),
    "A38": ("Original author", "Original authors"),
    "A43": ("Interviewer", "Interviewers"),
    "A44": ("Interviewee", "Interviewees"),
    "B01": ("Editor", "Editors"),
    "B02": ("Revised by", "Revised by"),
    "B06": ("Translator", "Translators"),
    "B09": ("Series editor", "Series editors"),
    "B10": ("Editor and translator", "Editors and translators"),
    "B11": ("Editor-in-chief", "Editors-in-chief"),
    "B12": ("Guest editor", "Guest editors"),
    "B13": ("Volume editor", "Volume editors"),
    "B19": ("Associate editor", "Associate editors"),
}
AUTHOR = "A01"
EDITOR = "B01"

# List 163: publishing date role; List 166: supply date role; List 55: date format.
PUBLICATION_DATE = "01"
EXPECTED_AVAILABILITY_DATE = "08"
DATE_YYYYMMDD = "00"
DATE_YYYY = "05"

# List 5: product identifier type; List 150: product form; List 2: product composition.
ISBN_13 = "15"
GTIN_13 = "03"
PAPERBACK = "BC"
SINGLE_ITEM = "00"

# List 15: title type; List 149: title element level; List 23/24: extent type and unit.
DISTINCTIVE_TITLE = "01"
PRODUCT_LEVEL = "01"
MAIN_CONTENT_PAGES = "00"
CONTENT_PAGE_COUNT = "11"
PAGES = "03"

# List 27: subject scheme. A Thema code starting with a digit is a qualifier, whose scheme says
# its kind: 1 place, 2 language, 3 time period, 4 educational purpose, 5 interest age, 6 style.
THEMA_SUBJECT = "93"
THEMA_QUALIFIERS = {"1": "94", "2": "95", "3": "96", "4": "97", "5": "98", "6": "99"}
THEMA_SCHEMES = frozenset({THEMA_SUBJECT, *THEMA_QUALIFIERS.values()})

# List 45: publishing role; List 93: supplier role; List 1: notification type; List 3:
# record source type.
PUBLISHER = "01"
PUBLISHER_TO_END_CUSTOMERS = "09"
NOTIFICATION_CONFIRMED = "03"
NOTIFICATION_ADVANCE = "02"
RECORD_SOURCE_PUBLISHER = "01"

# List 58: price type (printed books are zero-rated in the UK, so RRP including tax is the
# price we charge, and 01 names the same amount); List 62/171: tax rate and type.
RRP_INCLUDING_TAX = "02"
RRP_EXCLUDING_TAX = "01"
VAT = "01"
ZERO_RATED = "Z"
# List 170: discount type. A rising discount applies to every unit of a qualifying order: how
# the shop's volume prices work (catalogue.rules.PriceBreak).
RISING_DISCOUNT = "01"

# List 153/154: text type and audience (the summary).
DESCRIPTION = "03"
SHORT_DESCRIPTION = "02"
UNRESTRICTED = "00"

# The free PDF: a supporting resource (List 158 "Full content", List 159 "Text", List 161
# "Linkable resource", List 162 "File format" with List 178 "PDF"). Not a RelatedProduct: that
# composite must carry the related product's own identifier (an ISBN), which a free PDF has not.
FULL_CONTENT = "28"
TEXT_MODE = "04"
LINKABLE_RESOURCE = "01"
FILE_FORMAT = "01"
PDF_FORMAT = "E107"

THEMA_SUBJECTS: dict[str, str] = {
    "JKS": "Social welfare & social services",
    "JKSG": "Care of the elderly",
    "JKSM": "Care of the mentally ill",
    "JKSN": "Social work",
    "JPP": "Public administration",
    "JPQB": "Central / national / federal government policies",
    "KJMB": "Management: leadership & motivation",
    "MBD": "Medical profession",
    "MBDS": "Patient safety",
    "MBF": "Medical & health informatics",
    "MBN": "Public health & preventive medicine",
    "MBNH": "Personal & public health",
    "MBNS": "Epidemiology & medical statistics",
    "MBP": "Health systems & services",
    "MBPA": "Primary care medicine, primary health care",
    "MBPC": "General practice",
    "MBPK": "Mental health services",
    "MBPM": "Medical administration & management",
    "MBS": "Medical sociology",
    "1DDU": "United Kingdom, Great Britain",
    "1DDU-GB-E": "England",
}


def with_code(words: str, code: str) -> str:
    """How a code is shown to staff: ``Forthcoming (02)``."""
    return f"{words} ({code})"


def publishing_status_words(code: str) -> str:
    return PUBLISHING_STATUSES.get(code, f"code {code}")


def availability_words(code: str) -> str:
    return AVAILABILITIES.get(code, f"code {code}")


def role_words(code: str, many: bool = False) -> str:
    one, more = CONTRIBUTOR_ROLES.get(code, (code, code))
    return more if many else one


def thema_scheme(code: str) -> str:
    """The ONIX subject scheme of a Thema code: a category, or a qualifier of some kind."""
    return THEMA_QUALIFIERS.get(code[:1], THEMA_SUBJECT)


def by_role(contributors) -> list[tuple[str, list[str]]]:
    """Contributors grouped by role, in the order the book first names each role, with the role
    in words for one or for several: ``[("Authors", ["Chris Ham", "Nicola Walsh"])]``."""
    groups: dict[str, list[str]] = {}
    for role, name in contributors:
        groups.setdefault(role, []).append(name)
    return [(role_words(role, many=len(names) > 1), names) for role, names in groups.items()]


def subject_words(code: str) -> str:
    """A Thema code in words when this module knows it, else the code itself."""
    return THEMA_SUBJECTS.get(code, f"Thema {code}")
