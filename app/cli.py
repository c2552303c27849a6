"""Operator commands: `flask users create`, `flask tokens create|revoke`."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from .extensions import db
from .models import ApiToken
from .services import accounts

users = AppGroup("users", help="Manage user accounts.")
tokens = AppGroup("tokens", help="Manage API tokens.")


@users.command("create")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--admin", is_flag=True, help="Make the user an admin (the first account always is).")
def create_user(email: str, password: str, admin: bool) -> None:
    """Create a user, whether or not registration is open."""
    if accounts.user_by_email(email) is not None:
        raise click.ClickException(f"A user with email {email} already exists.")
    user = accounts.create_user(email, password, is_admin=admin)
    click.echo(f"Created user {user.id} <{user.email}>{', an admin' if user.is_admin else ''}.")


@tokens.command("create")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="A name to recognise the token by.")
def create_token(email: str, name: str) -> None:
    """Create an API token for a user and print it once."""
    user = accounts.user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    token, secret = accounts.create_token(user, name)
    click.echo(f"Token {token.id} ({name}) for {user.email}; it is shown only now:")
    click.echo(secret)


@tokens.command("revoke")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke an API token by its id."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise click.ClickException(f"No token with id {token_id}.")
    accounts.revoke_token(token)
    click.echo(f"Revoked token {token_id}.")


def init_app(app: Flask) -> None:
    """Register the command groups."""
    app.cli.add_command(users)
    app.cli.add_command(tokens)
