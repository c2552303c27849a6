"""A model per thread and thinking: threads.model and threads.thinking; messages.thinking,
messages.reasoning_tokens and messages.thinking_ms.

Existing threads keep a NULL model ("the provider's default at the time of each reply") and think
where their model can; existing messages have no thoughts.

Revision ID: 0004_models_and_thinking
Revises: 0003_reply_state
Create Date: 2026-12-03 14:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_models_and_thinking'
down_revision = '0003_reply_state'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('threads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('model', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('thinking', sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thinking', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('reasoning_tokens', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('thinking_ms', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('thinking_ms')
        batch_op.drop_column('reasoning_tokens')
        batch_op.drop_column('thinking')
    with op.batch_alter_table('threads', schema=None) as batch_op:
        batch_op.drop_column('thinking')
        batch_op.drop_column('model')
