"""Forms of the pages; each owns its validation."""
from flask import current_app
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from .. import providers
from ..limits import (
    MESSAGE_CONTENT_MAX, MODEL_NAME_MAX, PROJECT_INSTRUCTIONS_MAX, PROJECT_NAME_MAX, THREAD_TITLE_MAX,
)
from ..services import catalog


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


class BranchForm(FlaskForm):
    message_id = IntegerField("Message", validators=[InputRequired("Choose a version to show.")])


class ForkForm(FlaskForm):
    model_provider = SelectField(
        "Provider", choices=lambda: providers.choices(current_app.config), default=providers.DEFAULT_PROVIDER,
        validate_choice=False,
    )
    model = StringField("Model", filters=[strip], validators=[Optional(), Length(max=MODEL_NAME_MAX)],
                        description="Leave empty for the provider's default model.")
    project_id = SelectField("Project", coerce=int, validate_choice=False)
    title = StringField("Title", filters=[strip], validators=[Optional(), Length(max=THREAD_TITLE_MAX)])

    def validate_model_provider(self, field):
        if field.data not in providers.PROVIDERS:
            raise ValidationError(providers.unknown_provider_message(field.data))

    def validate_model(self, field):
        if field.data and self.model_provider.data in providers.PROVIDERS:
            error = catalog.current().check(self.model_provider.data, field.data)
            if error:
                raise ValidationError(error)

    def validate_project_id(self, field):
        if field.data not in {value for value, _ in self.project_id.choices}:
            raise ValidationError("Choose one of your projects.")
