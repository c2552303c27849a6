"""The data: users and their API tokens, projects, threads and messages."""
from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timezone

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger, Date, DateTime, ForeignKey, Index, String, Text, TypeDecorator, UniqueConstraint, false, text, true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db
from .providers import DEFAULT_PROVIDER


PENDING, COMPLETE, STOPPED, ERROR, INTERRUPTED = "pending", "complete", "stopped", "error", "interrupted"
RETRYABLE = {ERROR, STOPPED, INTERRUPTED}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use utcnow()")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A disabled account can't sign in and its API tokens are refused; its data is kept.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Micro-dollars a month; NULL: the team's default budget.
    monthly_budget_micros: Mapped[int | None] = mapped_column(BigInteger)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    projects: Mapped[list[Project]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @staticmethod
    def normalize_email(email: str) -> str:
        """Emails compare case-insensitively, so they are stored lower-cased."""
        return email.strip().lower()

    def set_password(self, password: str) -> None:
        """Store a scrypt hash of the password."""
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        """Whether the password matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:
        """Flask-Login's check: a disabled account's session no longer signs it in."""
        return self.disabled_at is None


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    PREFIX = "chat_"

    @staticmethod
    def hash_secret(secret: str) -> str:
        """The SHA-256 a token is looked up by; the secret itself is never stored."""
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, name: str) -> tuple[ApiToken, str]:
        """A new token for the user and its secret, which is shown once."""
        secret = cls.PREFIX + secrets.token_urlsafe(32)
        return cls(user=user, name=name, token_hash=cls.hash_secret(secret)), secret

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class Project(db.Model):
    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_user_id_updated_at", "user_id", "updated_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    instructions: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="projects")
    threads: Mapped[list[Thread]] = relationship(
        back_populates="project", cascade="all, delete-orphan", passive_deletes=True
    )


class Thread(db.Model):
    __tablename__ = "threads"
    __table_args__ = (Index("ix_threads_project_id_updated_at", "project_id", "updated_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200), default="New thread")
    # NULL in rows from before the column existed; read it through `provider`.
    model_provider: Mapped[str | None] = mapped_column(String(20), default=DEFAULT_PROVIDER)
    # NULL: the provider's default model at the time of each reply.
    model: Mapped[str | None] = mapped_column(String(100))
    # Think before answering, where the model can; off asks the provider not to (or hides the thoughts).
    thinking: Mapped[bool] = mapped_column(default=True, server_default=true())
    # The current branch's last message (NULL while empty); messages and threads point at each other.
    head_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL", use_alter=True))
    forked_from_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL", use_alter=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship(back_populates="threads")
    messages: Mapped[list[Message]] = relationship(
        back_populates="thread", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Message.id", foreign_keys="Message.thread_id",
    )

    @property
    def provider(self) -> str:
        """The provider name, with NULL read as the default."""
        return self.model_provider or DEFAULT_PROVIDER

    def touch(self) -> None:
        """Mark activity on the thread and its project."""
        now = utcnow()
        self.updated_at = now
        self.project.updated_at = now


class ReplyState:
    """What a message's status means; shared by the model and its plain MessageView."""

    role: str
    status: str

    @property
    def pending(self) -> bool:
        return self.status == PENDING

    @property
    def retryable(self) -> bool:
        return self.role == "assistant" and self.status in RETRYABLE


class Message(ReplyState, db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_thread_id_id", "thread_id", "id"),
        Index("ix_messages_parent_id_id", "parent_id", "id"),
        # A thread's first messages (the siblings of its root), found without scanning the thread.
        Index("ix_messages_roots", "thread_id",
              sqlite_where=text("parent_id IS NULL"), postgresql_where=text("parent_id IS NULL")),
        # At most one reply in flight per thread, enforced by the database itself.
        Index("uq_messages_one_pending_per_thread", "thread_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
        Index("ix_messages_pending_heartbeat", "heartbeat_at",
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    # NULL for a thread's first message. No ON DELETE action: a branch goes in one statement (tree.py).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    role: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What a reply needs: its state, who answered, what it cost, and why it ended.
    status: Mapped[str] = mapped_column(String(20), default=COMPLETE, server_default=COMPLETE)
    provider: Mapped[str | None] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(100))
    input_tokens: Mapped[int | None]
    output_tokens: Mapped[int | None]
    # What the model thought before answering (never sent back as history), its tokens and duration.
    thinking: Mapped[str | None] = mapped_column(Text)
    reasoning_tokens: Mapped[int | None]
    thinking_ms: Mapped[int | None]
    # Input read from / written to the provider's prompt cache, and the cost in micro-dollars (NULL: unknown).
    cached_input_tokens: Mapped[int | None]
    cache_write_tokens: Mapped[int | None]
    cost_micros: Mapped[int | None] = mapped_column(BigInteger)
    stop_reason: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(default=0, server_default="0")
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_requested: Mapped[bool] = mapped_column(default=False, server_default=false())

    thread: Mapped[Thread] = relationship(back_populates="messages", foreign_keys=[thread_id])


class UsageTotal(db.Model):
    """One person's replies of one day, project, provider and model, added up as each reply is stored.

    Kept apart from the messages, so deleting a thread never refunds a budget and totals are one
    indexed read; project_id has no foreign key for the same reason.
    """

    __tablename__ = "usage_totals"
    __table_args__ = (UniqueConstraint("user_id", "day", "project_id", "provider", "model"),
                      Index("ix_usage_totals_project_id", "project_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)  # UTC
    project_id: Mapped[int]
    provider: Mapped[str] = mapped_column(String(20))
    model: Mapped[str] = mapped_column(String(100))
    replies: Mapped[int] = mapped_column(default=0, server_default="0")
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cached_input_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    unpriced_replies: Mapped[int] = mapped_column(default=0, server_default="0")  # replies of unknown cost
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Setting(db.Model):
    """A team-wide setting an admin changed (registration, default budget); absent means the default."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class AuditEvent(db.Model):
    """One admin action: who did what to whom, and when."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(50))
    detail: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    target: Mapped[User | None] = relationship(foreign_keys=[target_id])
