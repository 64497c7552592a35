"""Time: stored as aware UTC; days, weeks and months are counted in the shop's own time zone."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHOP_TZ = ZoneInfo("Europe/London")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local(moment: datetime) -> datetime:
    return as_utc(moment).astimezone(SHOP_TZ)


def start_of_local_day(day: date) -> datetime:
    """The UTC instant at which ``day`` begins in London."""
    return datetime.combine(day, time.min, tzinfo=SHOP_TZ).astimezone(UTC)


def local_today(now: datetime | None = None) -> date:
    return local(now or utcnow()).date()


def period_starts(now: datetime) -> dict[str, datetime]:
    """UTC starts of today, this week (Monday) and this month, in London time."""
    today = local_today(now)
    return {
        "today": start_of_local_day(today),
        "week": start_of_local_day(today - timedelta(days=today.weekday())),
        "month": start_of_local_day(today.replace(day=1)),
    }
