"""Forms of the pages; each owns its validation."""
from flask import current_app
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from .. import providers
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
