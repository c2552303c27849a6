"""Conversations as trees: messages.parent_id, threads.head_id and threads.forked_from_message_id.

Every existing thread becomes a chain (each message's parent is the one before it, the head its last
message). The downgrade keeps each thread's current path and deletes the messages off it.

parent_id has no ON DELETE action: SQLite runs a cascade as nested triggers, at most 1000 deep, so a
long thread could not be deleted. A branch is deleted in one statement listing its whole subtree.

Revision ID: 0005_message_tree
Revises: 0004_models_and_thinking
Create Date: 2026-12-03 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_message_tree'
down_revision = '0004_models_and_thinking'
branch_labels = None
depends_on = None

CHAIN = """
UPDATE messages SET parent_id = (
    SELECT max(earlier.id) FROM messages AS earlier
    WHERE earlier.thread_id = messages.thread_id AND earlier.id < messages.id)
"""
HEADS = "UPDATE threads SET head_id = (SELECT max(m.id) FROM messages AS m WHERE m.thread_id = threads.id)"
OFF_THE_PATH = """
DELETE FROM messages WHERE id NOT IN (
    WITH RECURSIVE path(id, parent_id) AS (
        SELECT m.id, m.parent_id FROM messages AS m JOIN threads AS t ON t.head_id = m.id
        UNION ALL
        SELECT m.id, m.parent_id FROM messages AS m JOIN path ON m.id = path.parent_id)
    SELECT id FROM path)
"""


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_messages_parent_id_messages'), 'messages', ['parent_id'], ['id'])
        batch_op.create_index('ix_messages_parent_id_id', ['parent_id', 'id'], unique=False)
        # A thread's first messages (the siblings of its root), found without scanning the thread.
        batch_op.create_index('ix_messages_roots', ['thread_id'], unique=False,
                              sqlite_where=sa.text('parent_id IS NULL'),
                              postgresql_where=sa.text('parent_id IS NULL'))
    with op.batch_alter_table('threads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('head_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('forked_from_message_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_threads_head_id_messages'), 'messages', ['head_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_threads_forked_from_message_id_messages'), 'messages',
                                    ['forked_from_message_id'], ['id'], ondelete='SET NULL')
    op.execute(CHAIN)
    op.execute(HEADS)


def downgrade():
    op.execute(OFF_THE_PATH)
    with op.batch_alter_table('threads', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_threads_forked_from_message_id_messages'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_threads_head_id_messages'), type_='foreignkey')
        batch_op.drop_column('forked_from_message_id')
        batch_op.drop_column('head_id')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_roots', sqlite_where=sa.text('parent_id IS NULL'),
                            postgresql_where=sa.text('parent_id IS NULL'))
        batch_op.drop_index('ix_messages_parent_id_id')
        batch_op.drop_constraint(batch_op.f('fk_messages_parent_id_messages'), type_='foreignkey')
        batch_op.drop_column('parent_id')
