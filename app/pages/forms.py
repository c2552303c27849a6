"""Forms of the pages; each owns its validation."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from .. import providers
from ..limits import (
    MESSAGE_CONTENT_MAX, MODEL_ID_MAX, PROJECT_INSTRUCTIONS_MAX, PROJECT_NAME_MAX, THREAD_TITLE_MAX,
)
from ..services import admin, catalog


def strip(value):
    """Trim surrounding white space from text input."""
    return value.strip() if isinstance(value, str) else value


class ProjectForm(FlaskForm):
    name = StringField("Name", filters=[strip], validators=[DataRequired(), Length(max=PROJECT_NAME_MAX)])
    instructions = TextAreaField(
        "Instructions", filters=[strip], validators=[Optional(), Length(max=PROJECT_INSTRUCTIONS_MAX)],
        description="Every thread in this project gets these as its system prompt.",
    )


# How a provider that is not ready reads in the dropdown.
STATUS_WORDS = {catalog.NO_KEY: "no key", catalog.KEY_REJECTED: "key rejected", catalog.UNREACHABLE: "unreachable"}
THINKING_LABEL = "Think before answering"
THINKING_HELP = "Where the model can: off asks it not to think, or hides its thoughts."


def provider_choices() -> list[tuple[str, str]]:
    """(name, label) of every provider, a provider that is not ready saying why."""
    return [(s.name, s.label if s.ready else f"{s.label} ({STATUS_WORDS[s.status]})")
            for s in catalog.current().summaries()]


def check_model(provider: str, model: str | None) -> None:
    """A model the provider lists, or none (the provider's default); else a ValidationError naming the valid ones."""
    error = model and catalog.current().check(provider, model)
    if error:
        raise ValidationError(error)


class ProviderAndModel:
    """Checks of a form's provider select and of the model it names for that provider."""

    def validate_model_provider(self, field):
        if field.data not in providers.PROVIDERS:
            raise ValidationError(providers.unknown_provider_message(field.data))

    def validate_model(self, field):
        if self.model_provider.data in providers.PROVIDERS:
            check_model(self.model_provider.data, field.data)


class ThreadForm(ProviderAndModel, FlaskForm):
    title = StringField("Title", filters=[strip], validators=[Optional(), Length(max=THREAD_TITLE_MAX)])
    model_provider = SelectField(
        "Provider", choices=provider_choices, default=providers.DEFAULT_PROVIDER, validate_choice=False,
    )
    # Rendered by the template (an <optgroup> per provider, or htmx's options for one); checked below.
    model = SelectField("Model", choices=[], default="", validate_choice=False)
    thinking = BooleanField(THINKING_LABEL, default=True, description=THINKING_HELP)


class ThreadModelForm(FlaskForm):
    """A thread's model (within its provider) and thinking; the provider comes from the thread."""

    model = SelectField("Model", choices=[], default="", validate_choice=False)
    thinking = BooleanField(THINKING_LABEL, default=True, description=THINKING_HELP)

    def __init__(self, provider: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.provider = provider

    def validate_model(self, field):
        check_model(self.provider, field.data)


class RenameThreadForm(FlaskForm):
    title = StringField("Title", filters=[strip], validators=[DataRequired(), Length(max=THREAD_TITLE_MAX)])


class ChatForm(FlaskForm):
    content = TextAreaField("Message", validators=[DataRequired("Type a message first."),
                                                   Length(max=MESSAGE_CONTENT_MAX)])

    def validate_content(self, field):
        if not field.data.strip():
            raise ValidationError("Type a message first.")


class BranchForm(FlaskForm):
    message_id = IntegerField("Message", validators=[InputRequired("Choose a version to show.")])


class ForkForm(ProviderAndModel, FlaskForm):
    model_provider = SelectField(
        "Provider", choices=provider_choices, default=providers.DEFAULT_PROVIDER, validate_choice=False,
    )
    model = StringField("Model", filters=[strip], validators=[Optional(), Length(max=MODEL_ID_MAX)],
                        description="Leave empty for the provider's default model.")
    project_id = SelectField("Project", coerce=int, validate_choice=False)
    title = StringField("Title", filters=[strip], validators=[Optional(), Length(max=THREAD_TITLE_MAX)])

    def validate_project_id(self, field):
        if field.data not in {value for value, _ in self.project_id.choices}:
            raise ValidationError("Choose one of your projects.")
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
