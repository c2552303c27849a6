"""Forms for accounts and tokens; they own their validation."""
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from ..limits import EMAIL_MAX, PASSWORD_MAX, PASSWORD_MIN, TOKEN_NAME_MAX
from ..services import accounts


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=EMAIL_MAX)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=PASSWORD_MAX)])


class RegisterForm(FlaskForm):
    email = EmailField(
        "Email", validators=[DataRequired(), Email(check_deliverability=False), Length(max=EMAIL_MAX)]
    )
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(min=PASSWORD_MIN, max=PASSWORD_MAX)]
    )
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", "The passwords do not match.")]
    )

    def validate_email(self, field):
        if accounts.user_by_email(field.data) is not None:
            raise ValidationError("An account with this email already exists.")


class TokenForm(FlaskForm):
    name = StringField(
        "Token name",
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[DataRequired(), Length(max=TOKEN_NAME_MAX)],
    )
