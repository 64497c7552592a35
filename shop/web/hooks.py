"""The extensions' per-request hooks, trimmed to the requests they have work on.

Flask runs every ``before_request``, ``after_request`` and ``teardown_request`` hook on every
request. A new reader of a public page is served from the page cache (shop.web.pagecache) in
about half a millisecond, and a tenth of that went on hooks with nothing to do. Each trim here
keeps what its hook does on the requests where it does anything:

- Flask-Limiter's app-wide ``before_request`` check goes. It looks for default and application
  limits, and the shop sets none: each limited view carries a decorator, which checks its own.
  If someone configures an app-wide limit, the check stays.
- Flask-Limiter's ``after_request`` hook (conditional deductions, rate-limit headers and
  ``Retry-After``) and its teardown (clearing its per-request state) run only on a request whose view
  carried a limit. Both act on that per-request state, which only a limit decorator creates;
  on any other request they would create it empty in order to find nothing in it.
- Flask-Login's ``after_request`` hook, which sets or clears a remember-me cookie, goes. It acts
  only when ``login_user(remember=True)`` or ``logout_user()`` asked it to, and the shop calls
  neither: staff sign-ins are records named by their own cookie and loaded by a request loader
  (shop.staff.sessions).
- Flask-WTF's CSRF check is called by shop.web.security's one guard, on the methods it checks,
  instead of running as a hook of its own on every request (see ``csrf_check``).
"""

from flask import Flask
from flask.globals import request_ctx

# Flask-Limiter keeps a request's limit state in this attribute of the request context
# (flask_limiter._extension.Limiter.context); a limit decorator creates it.
_LIMITER_STATE = "_limiter_request_context"


def trim_extension_hooks(app: Flask, limiter, login_manager) -> None:
    before = app.before_request_funcs.setdefault(None, [])
    after = app.after_request_funcs.setdefault(None, [])
    teardown = app.teardown_request_funcs.setdefault(None, [])

    app_wide_limits = app.config.get("RATELIMIT_DEFAULT") or app.config.get("RATELIMIT_APPLICATION")
    # The check is not there when RATELIMIT_ENABLED is False.
    if not app_wide_limits and limiter._check_request_limit in before:
        before.remove(limiter._check_request_limit)

    for hooks in (after, teardown):
        for index, hook in enumerate(hooks):
            if _belongs_to(hook, limiter):
                hooks[index] = _only_where_limited(hook)

    if login_manager._update_remember_cookie in after:
        after.remove(login_manager._update_remember_cookie)


def csrf_check(app: Flask):
    """Flask-WTF's ``before_request`` hook, taken out of the hooks and returned for the shop's
    guard to call on the methods it checks (``WTF_CSRF_METHODS``). It reads WTF_CSRF_ENABLED
    itself on each call; None only if Flask-WTF registered no hook."""
    before = app.before_request_funcs.setdefault(None, [])
    for hook in before:
        if hook.__module__ == "flask_wtf.csrf" and hook.__name__ == "csrf_protect":
            before.remove(hook)
            return hook
    return None


def _belongs_to(hook, limiter) -> bool:
    owner = getattr(hook, "__self__", None)  # a bound method (the teardown)
    if owner is None:
        owner = (getattr(hook, "args", None) or (None,))[0]  # functools.partial(…, limiter)
    return owner is limiter


def _only_where_limited(hook):
    def hook_where_limited(value=None):
        if hasattr(request_ctx._get_current_object(), _LIMITER_STATE):
            return hook(value)
        return value  # after_request: the response, unchanged; teardown: ignored

    hook_where_limited.__name__ = f"{getattr(hook, '__name__', 'limiter_hook')}_where_limited"
    return hook_where_limited
