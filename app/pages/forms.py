"""Forms of the pages; each owns its validation."""
from flask import current_app
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from .. import providers
from ..services import admin
from ..limits import MESSAGE_CONTENT_MAX, PROJECT_INSTRUCTIONS_MAX, PROJECT_NAME_MAX, THREAD_TITLE_MAX


def strip(value):
    """Trim surrounding white space from text input."""
    return value.strip() if isinstance(value, str) else value


class ProjectForm(FlaskForm):
    name = StringField("Name", filters=[strip], validators=[DataRequired(), Length(max=PROJECT_NAME_MAX)])
    instructions = TextAreaField(
        "Instructions", filters=[strip], validators=[Optional(), Length(max=PROJECT_INSTRUCTIONS_MAX)],
        description="Every thread in this project gets these as its system prompt.",
    )


class ThreadForm(FlaskForm):
    title = StringField("Title", filters=[strip], validators=[Optional(), Length(max=THREAD_TITLE_MAX)])
    model_provider = SelectField(
        "Provider", choices=lambda: providers.choices(current_app.config), default=providers.DEFAULT_PROVIDER,
        validate_choice=False,
    )

    def validate_model_provider(self, field):
        if field.data not in providers.PROVIDERS:
            raise ValidationError(providers.unknown_provider_message(field.data))


class RenameThreadForm(FlaskForm):
    title = StringField("Title", filters=[strip], validators=[DataRequired(), Length(max=THREAD_TITLE_MAX)])


class ChatForm(FlaskForm):
    content = TextAreaField("Message", validators=[DataRequired("Type a message first."),
                                                   Length(max=MESSAGE_CONTENT_MAX)])

    def validate_content(self, field):
        if not field.data.strip():
            raise ValidationError("Type a message first.")


class AccountChangeForm(FlaskForm):
    """One change an admin makes to an account: a button each, or a new budget."""

    CHANGES = ("disable", "enable", "promote", "demote", "budget")
    change_kind = HiddenField("Change", validators=[DataRequired()])
    monthly_budget = StringField("Monthly budget ($)", filters=[strip],
                                 description="Empty: the team's default budget.")

    def validate_change_kind(self, field):
        if field.data not in self.CHANGES:
            raise ValidationError(f"Unknown change {field.data!r}.")

    def validate_monthly_budget(self, field):
        if self.change_kind.data == "budget":
            try:
                admin.dollars_to_micros(field.data, "The budget")
            except admin.AdminError as exc:
                raise ValidationError(str(exc)) from None

    def change(self) -> dict:
        """The keyword arguments of services.admin.update_user for this change."""
        kind = self.change_kind.data
        if kind == "budget":
            return {"budget_micros": admin.dollars_to_micros(self.monthly_budget.data), "set_budget": True}
        if kind in ("disable", "enable"):
            return {"disabled": kind == "disable"}
        return {"is_admin": kind == "promote"}


class TeamSettingsForm(FlaskForm):
    """Registration and the team's default monthly budget."""

    registration = SelectField("Registration", choices=[
        SelectChoice("default", "As the server is configured (REGISTRATION_OPEN)"), SelectChoice("open", "Open"),
        SelectChoice("closed", "Closed")])
    default_budget = StringField("Default monthly budget ($)", filters=[strip],
                                 description="Empty: no budget for those without their own.")

    def validate_default_budget(self, field):
        try:
            admin.dollars_to_micros(field.data, "The default budget")
        except admin.AdminError as exc:
            raise ValidationError(str(exc)) from None

    def fill(self, settings: dict) -> None:
        """Show the stored settings."""
        self.registration.data = ("default" if not settings["registration_stored"]
                                  else "open" if settings["registration_open"] else "closed")
        micros = settings["default_budget_micros"]
        self.default_budget.data = "" if micros is None else f"{micros / 1_000_000:.2f}"

    def change(self) -> dict:
        """The keyword arguments of services.admin.update_settings."""
        choice = self.registration.data
        return {"registration": None if choice == "default" else choice == "open", "set_registration": True,
                "budget_micros": admin.dollars_to_micros(self.default_budget.data), "set_budget": True}
