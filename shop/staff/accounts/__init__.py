"""Staff accounts for admins (``/staff/accounts``): invitations, roles, disabling, resets."""
