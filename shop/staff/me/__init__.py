"""One's own staff account (``/staff/me``): the second step of signing in, and two-factor sign-in."""
