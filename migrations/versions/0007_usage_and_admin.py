"""Usage and who may spend it: cache tokens and cost per message, usage totals per person and day,
roles, disabled accounts and budgets on users, team settings and the admin audit log.

Existing messages keep a NULL cost ("unknown"); the earliest existing account becomes the admin.

The messages columns are added and dropped with plain ALTER TABLE, never a batch table rebuild: on
SQLite a rebuild of messages would drop the search triggers of 0006_search.

Revision ID: 0007_usage_and_admin
Revises: 0006_search
Create Date: 2026-12-03 15:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_usage_and_admin'
down_revision = '0006_search'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('messages', sa.Column('cached_input_tokens', sa.Integer(), nullable=True))
    op.add_column('messages', sa.Column('cache_write_tokens', sa.Integer(), nullable=True))
    op.add_column('messages', sa.Column('cost_micros', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_admin', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('monthly_budget_micros', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE users SET is_admin = TRUE WHERE id = (SELECT MIN(id) FROM users)")
    op.create_table(
        'usage_totals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('provider', sa.String(length=20), nullable=False),
        sa.Column('model', sa.String(length=100), nullable=False),
        sa.Column('replies', sa.Integer(), server_default='0', nullable=False),
        sa.Column('input_tokens', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('output_tokens', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('cached_input_tokens', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('cache_write_tokens', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('reasoning_tokens', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('cost_micros', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('unpriced_replies', sa.Integer(), server_default='0', nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_usage_totals_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_totals')),
        sa.UniqueConstraint('user_id', 'day', 'project_id', 'provider', 'model',
                            name=op.f('uq_usage_totals_user_id')),
    )
    op.create_index('ix_usage_totals_project_id', 'usage_totals', ['project_id'], unique=False)
    op.create_table(
        'settings',
        sa.Column('key', sa.String(length=50), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_settings')),
    )
    op.create_table(
        'audit_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('target_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=50), nullable=False),
        sa.Column('detail', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_events_actor_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['target_id'], ['users.id'], name=op.f('fk_audit_events_target_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    )


def downgrade():
    op.drop_table('audit_events')
    op.drop_table('settings')
    op.drop_index('ix_usage_totals_project_id', table_name='usage_totals')
    op.drop_table('usage_totals')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('monthly_budget_micros')
        batch_op.drop_column('disabled_at')
        batch_op.drop_column('is_admin')
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+): the search triggers on messages stay.
    op.drop_column('messages', 'cost_micros')
    op.drop_column('messages', 'cache_write_tokens')
    op.drop_column('messages', 'cached_input_tokens')
