"""staff roles, accounts managed on the desk, and two-factor sign-in (issue 19)

1. staff_role: an account's roles (admin, desk, finance, catalogue; several each). Every
   account that exists before this upgrade becomes an admin, so nobody is locked out.
2. staff_user: the TOTP secret, when it was turned on, and the last time step whose code was
   accepted (no code is accepted twice).
3. staff_session.second_factor_at: when the session passed the second factor.
4. staff_recovery_code (hashed, used once), staff_link (one-time invitation and reset links,
   hashed) and staff_audit (who did what to which account).

Revision ID: 0019
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "staff_role",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'desk', 'finance', 'catalogue')", name="ck_staff_role_known_role"),
        sa.ForeignKeyConstraint(["user_id"], ["staff_user.id"], name="fk_staff_role_user_id_staff_user", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "role", name="pk_staff_role"),
    )
    op.execute("INSERT INTO staff_role (user_id, role) SELECT id, 'admin' FROM staff_user")

    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
    with op.batch_alter_table("staff_session") as batch:
        batch.add_column(sa.Column("second_factor_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "staff_recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["staff_user.id"], name="fk_staff_recovery_code_user_id_staff_user", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_staff_recovery_code"),
        sa.UniqueConstraint("code_hash", name="uq_staff_recovery_code_code_hash"),
    )
    op.create_index("ix_staff_recovery_code_user_id", "staff_recovery_code", ["user_id"])

    op.create_table(
        "staff_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("purpose IN ('invite', 'reset')", name="ck_staff_link_known_purpose"),
        sa.ForeignKeyConstraint(["user_id"], ["staff_user.id"], name="fk_staff_link_user_id_staff_user", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_staff_link"),
        sa.UniqueConstraint("token_hash", name="uq_staff_link_token_hash"),
    )
    op.create_index("ix_staff_link_user_id", "staff_link", ["user_id"])

    op.create_table(
        "staff_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("subject_email", sa.String(length=320), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["subject_id"], ["staff_user.id"], name="fk_staff_audit_subject_id_staff_user", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_staff_audit"),
    )
    op.create_index("ix_staff_audit_subject_at", "staff_audit", ["subject_id", "at"])


def downgrade():
    op.drop_index("ix_staff_audit_subject_at", table_name="staff_audit")
    op.drop_table("staff_audit")
    op.drop_index("ix_staff_link_user_id", table_name="staff_link")
    op.drop_table("staff_link")
    op.drop_index("ix_staff_recovery_code_user_id", table_name="staff_recovery_code")
    op.drop_table("staff_recovery_code")
    op.drop_table("staff_role")
    # Plain DROP COLUMN, which SQLite (3.35+) and PostgreSQL both take: a batch copy of
    # staff_user would drop the table, and its sessions with it (ON DELETE CASCADE).
    for table, column in (("staff_session", "second_factor_at"), ("staff_user", "totp_last_step"),
                          ("staff_user", "totp_enabled_at"), ("staff_user", "totp_secret")):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
