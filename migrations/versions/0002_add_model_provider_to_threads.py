"""add_model_provider_to_threads: threads.model_provider, nullable; existing rows keep NULL (read as "anthropic").

Revision ID: add_model_provider_to_threads
Revises: 0001_initial
Create Date: 2026-11-24 09:17:54

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'add_model_provider_to_threads'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('threads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('model_provider', sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table('threads', schema=None) as batch_op:
        batch_op.drop_column('model_provider')

