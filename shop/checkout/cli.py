"""``flask --app wsgi stripe …``: setting up the shop's side of Stripe."""

import click
from flask.cli import AppGroup

from shop.errors import ShopError

payments_cli = AppGroup("stripe", help="Set up Stripe for this shop.")


@payments_cli.command("webhook-setup")
@click.argument("url")
def webhook_setup(url: str) -> None:
    """Create, or find and update, the webhook endpoint at URL (the shop's /stripe/webhook):
    the shop's API version and exactly the events it handles. Prints the signing secret when
    it creates the endpoint, the one time Stripe shows it. Safe to run again."""
    from shop.checkout.services import setup_webhook_endpoint
    from shop.payments.gateway import API_VERSION

    try:
        setup = setup_webhook_endpoint(url)
    except ShopError as error:
        raise click.ClickException(error.message) from None
    endpoint = setup.endpoint
    events = ", ".join(sorted(endpoint.enabled_events))
    if setup.action == "created":
        click.echo(f"Created webhook endpoint {endpoint.id} for {endpoint.url}")
    elif setup.action == "updated":
        click.echo(f"Updated webhook endpoint {endpoint.id} for {endpoint.url}")
    else:
        click.echo(f"Webhook endpoint {endpoint.id} for {endpoint.url} is already set up")
    click.echo(f"API version {endpoint.api_version}; events: {events}")
    for other in setup.others:
        if other.api_version is None:
            why = "sends events in the account's default API version (Stripe cannot change that)"
        elif other.api_version != API_VERSION:
            why = f"sends events in API version {other.api_version} (Stripe cannot change that)"
        else:
            why = "duplicates it"
        click.echo(
            f"Note: endpoint {other.id} at the same URL {why}. Delete it in Stripe's dashboard once "
            "STRIPE_WEBHOOK_SECRET holds this endpoint's secret.",
            err=True,
        )
    if endpoint.secret:
        click.echo("Signing secret (Stripe shows it this once; set it as STRIPE_WEBHOOK_SECRET):")
        click.echo(endpoint.secret)
    else:
        click.echo(
            "Its signing secret was shown when it was created; Stripe's dashboard shows it again "
            "(Developers, Webhooks, the endpoint, Signing secret)."
        )
