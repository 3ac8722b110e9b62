"""backchannel authentication requests (CIBA) and approval-required scopes (issue 7)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 11:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: resources saved before issue 7 need no approval for any scope.
    with op.batch_alter_table('resources') as batch:
        batch.add_column(sa.Column('approval_scopes', sa.JSON(), nullable=True))
    op.create_table('backchannel_requests',
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('auth_req_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('resource', sa.String(length=500), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('binding_message', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('interval', sa.Integer(), nullable=False),
    sa.Column('last_polled_at', sa.BigInteger(), nullable=False),
    sa.Column('decided_at', sa.BigInteger(), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('consent_id', sa.String(length=64), nullable=True),
    sa.Column('issued_jti', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('request_id')
    )
    with op.batch_alter_table('backchannel_requests') as batch:
        batch.create_index('ix_backchannel_requests_auth_req_hash', ['auth_req_hash'], unique=True)
        batch.create_index('ix_backchannel_requests_username', ['username'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('backchannel_requests') as batch:
        batch.drop_index('ix_backchannel_requests_username')
        batch.drop_index('ix_backchannel_requests_auth_req_hash')
    op.drop_table('backchannel_requests')
    with op.batch_alter_table('resources') as batch:
        batch.drop_column('approval_scopes')
