"""Reply state on messages: status, provider, model, usage, error, attempt, heartbeat, stop flag.

Existing messages become `complete`. A partial unique index allows one pending reply per thread.

Revision ID: 0003_reply_state
Revises: add_model_provider_to_threads
Create Date: 2026-11-24 09:29:31

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_reply_state'
down_revision = 'add_model_provider_to_threads'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=20), server_default='complete', nullable=False))
        batch_op.add_column(sa.Column('provider', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('model', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('input_tokens', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('output_tokens', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('stop_reason', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('attempt', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('stop_requested', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('ix_messages_pending_heartbeat', ['heartbeat_at'], unique=False, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.create_index('uq_messages_one_pending_per_thread', ['thread_id'], unique=True, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('uq_messages_one_pending_per_thread', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_index('ix_messages_pending_heartbeat', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_column('stop_requested')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('attempt')
        batch_op.drop_column('error')
        batch_op.drop_column('stop_reason')
        batch_op.drop_column('output_tokens')
        batch_op.drop_column('input_tokens')
        batch_op.drop_column('model')
        batch_op.drop_column('provider')
        batch_op.drop_column('status')

