"""Request plumbing shared by every area, not domain: security guards, sessions, the page cache, health."""
