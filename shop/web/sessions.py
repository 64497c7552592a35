"""The session cookie (it holds the basket), opened only when a request brings one."""

from flask.sessions import SecureCookieSessionInterface


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building a signer for a request that carries no
    cookie: that is every new reader of a public page, and the signer cost it a twentieth of
    the page. What such a request gets is what Flask would give it: a new, empty session."""

    def open_session(self, app, request):
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)
