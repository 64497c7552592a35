"""A real SMTP server on loopback (aiosmtpd), collecting what the shop sends."""

import socket
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


class Inbox:
    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp(app):
    """The inbox; ``smtp.stop()`` plays a mail server that is down, ``smtp.start()`` brings it
    back on the same port."""
    inbox = Inbox()
    port = _free_port()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_FROM="Print shop <orders@shop.test>")

    def start():
        inbox.controller = Controller(inbox, hostname="127.0.0.1", port=port)
        inbox.controller.start()

    def stop():
        inbox.controller.stop()
        inbox.controller = None

    inbox.start, inbox.stop = start, stop
    start()
    yield inbox
    if inbox.controller is not None:
        stop()
