"""Extension singletons, bound to an app in the factory (nothing here imports from shop)."""

from typing import TYPE_CHECKING, cast

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import CursorResult, Executable, MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints, so Alembic migrations can drop and alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
# The models' base class: Flask-SQLAlchemy's db.Model, which type checkers know as Base.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


def rows_changed(statement: Executable) -> int:
    """Run an UPDATE or DELETE in the current session; how many rows it matched."""
    return cast(CursorResult, db.session.execute(statement)).rowcount

migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
# Storage comes from RATELIMIT_STORAGE_URI (memory:// by default, redis://… to share limits
# between processes and hosts). Only the routes that ask for a limit get one.
limiter = Limiter(key_func=get_remote_address)
