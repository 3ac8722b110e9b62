"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 08:10:14.440330
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent_grants',
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('resource', sa.String(length=500), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('client_id', 'resource')
    )
    op.create_table('agent_keys',
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('kid', sa.String(length=200), nullable=False),
    sa.Column('jwk', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('client_id', 'kid')
    )
    op.create_table('agent_secrets',
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('secret_id', sa.String(length=64), nullable=False),
    sa.Column('secret_hash', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('client_id', 'secret_id')
    )
    op.create_table('agents',
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owners', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('may_impersonate', sa.Boolean(), nullable=False),
    sa.Column('subject_users', sa.JSON(), nullable=False),
    sa.Column('subject_groups', sa.JSON(), nullable=False),
    sa.Column('audiences', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('client_id')
    )
    op.create_table('audit_events',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('time', sa.BigInteger(), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('actors', sa.Text(), nullable=False),
    sa.Column('audience', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_subject'), ['subject'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_time'), ['time'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_type'), ['type'], unique=False)

    op.create_table('entitlements',
    sa.Column('group_name', sa.String(length=200), nullable=False),
    sa.Column('resource', sa.String(length=500), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('group_name', 'resource')
    )
    with op.batch_alter_table('entitlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entitlements_resource'), ['resource'], unique=False)

    op.create_table('groups',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('memberships',
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('group_name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('username', 'group_name')
    )
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_memberships_group_name'), ['group_name'], unique=False)

    op.create_table('replay_cache',
    sa.Column('key', sa.String(length=500), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('replay_cache', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_replay_cache_expires_at'), ['expires_at'], unique=False)

    op.create_table('resources',
    sa.Column('identifier', sa.String(length=500), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('signing_alg', sa.String(length=10), nullable=False),
    sa.Column('token_ttl', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('identifier')
    )
    op.create_table('signing_keys',
    sa.Column('kid', sa.String(length=100), nullable=False),
    sa.Column('alg', sa.String(length=10), nullable=False),
    sa.Column('private_jwk', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('retire_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('kid')
    )
    op.create_table('token_actors',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('jti', 'agent_id')
    )
    with op.batch_alter_table('token_actors', schema=None) as batch_op:
        batch_op.create_index('ix_token_actors_agent', ['agent_id'], unique=False)

    op.create_table('tokens',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('parent_jti', sa.String(length=64), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('grant_type', sa.String(length=100), nullable=False),
    sa.Column('mode', sa.String(length=20), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('scope', sa.JSON(), nullable=False),
    sa.Column('actors', sa.JSON(), nullable=False),
    sa.Column('issued_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    sa.Column('revoked_reason', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('jti')
    )
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tokens_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tokens_parent_jti'), ['parent_jti'], unique=False)
        batch_op.create_index(batch_op.f('ix_tokens_subject'), ['subject'], unique=False)

    op.create_table('users',
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('username')
    )


def downgrade() -> None:
    op.drop_table('users')
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tokens_subject'))
        batch_op.drop_index(batch_op.f('ix_tokens_parent_jti'))
        batch_op.drop_index(batch_op.f('ix_tokens_expires_at'))

    op.drop_table('tokens')
    with op.batch_alter_table('token_actors', schema=None) as batch_op:
        batch_op.drop_index('ix_token_actors_agent')

    op.drop_table('token_actors')
    op.drop_table('signing_keys')
    op.drop_table('resources')
    with op.batch_alter_table('replay_cache', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_replay_cache_expires_at'))

    op.drop_table('replay_cache')
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memberships_group_name'))

    op.drop_table('memberships')
    op.drop_table('groups')
    with op.batch_alter_table('entitlements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entitlements_resource'))

    op.drop_table('entitlements')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_type'))
        batch_op.drop_index(batch_op.f('ix_audit_events_time'))
        batch_op.drop_index(batch_op.f('ix_audit_events_subject'))
        batch_op.drop_index(batch_op.f('ix_audit_events_client_id'))

    op.drop_table('audit_events')
    op.drop_table('agents')
    op.drop_table('agent_secrets')
    op.drop_table('agent_keys')
    op.drop_table('agent_grants')
