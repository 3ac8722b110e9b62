"""partner authorization servers (ID-JAG issuance, issue 4)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:35:55.222088
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('partner_servers',
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('issuer')
    )


def downgrade() -> None:
    op.drop_table('partner_servers')
