"""The floor for persisted sends: plain asyncpg doing a send's work as fast as it can.

A Parley send checks that the sender is a member, answers a repeated ``client_id`` with the
first message, takes the room's next seq under the room row's lock, inserts the message and
commits. Here all of that is one prepared statement run in autocommit: one round trip per
send, and the room's lock is held only while PostgreSQL runs the statement and commits.

It runs on a fresh database with Parley's schema (same tables, same indexes), seeds its own
users, rooms and memberships there, then sends the plan's messages from ``--senders``
concurrent senders on a pool of 10 connections and writes ``{"acknowledged", "seconds"}``
to ``--result``::

    python -m bench.peers.asyncpg_sends --database-url postgresql://… --result sent.json \\
        --senders 50 --messages 200 --warmup 5 --rooms 100 --accounts 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.sends_plan import BODY, SendPlan, measure, warm_up

__all__ = ["POOL_SIZE", "SEND", "send"]

POOL_SIZE = 10

# $1 room, $2 sender, $3 body, $4 client_id. A non-member gets no row. A client_id the
# sender already used in the room gets the earlier message and changes nothing. Otherwise
# the room's last_seq goes up by one (locking the room row until commit, so seqs follow
# commit order with no gap) and the message is stored with it.
SEND = """
WITH member AS (
    SELECT FROM memberships WHERE room_id = $1 AND user_id = $2
), earlier AS (
    SELECT id, seq, created_at FROM messages
    WHERE room_id = $1 AND sender_id = $2 AND client_id = $4
), next_seq AS (
    UPDATE rooms SET last_seq = last_seq + 1
    WHERE id = $1 AND EXISTS (SELECT FROM member) AND NOT EXISTS (SELECT FROM earlier)
    RETURNING last_seq
), stored AS (
    INSERT INTO messages (id, room_id, seq, kind, sender_id, body, client_id, created_at)
    SELECT gen_random_uuid(), $1, last_seq, 'text', $2, $3, $4, now() FROM next_seq
    RETURNING id, seq, created_at
)
SELECT id, seq, created_at FROM stored
UNION ALL
SELECT id, seq, created_at FROM earlier WHERE EXISTS (SELECT FROM member)
"""


async def send(
    pool: asyncpg.Pool, room_id: uuid.UUID, sender_id: uuid.UUID, client_id: str
) -> asyncpg.Record:
    try:
        row = await pool.fetchrow(SEND, room_id, sender_id, BODY, client_id)
    except asyncpg.UniqueViolationError:
        # A concurrent send of the same client_id committed after this statement began; the
        # statement rolled back whole (its seq too), and running it again finds that message.
        row = await pool.fetchrow(SEND, room_id, sender_id, BODY, client_id)
    if row is None:
        msg = f"user {sender_id} is not a member of room {room_id}"
        raise LookupError(msg)
    return row


async def seed(pool: asyncpg.Pool, plan: SendPlan) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """The plan's users and rooms, every user a member of every room: ``(users, rooms)``."""
    users = [uuid.uuid4() for _ in range(plan.accounts)]
    rooms = [uuid.uuid4() for _ in range(plan.rooms)]
    now = datetime.now(UTC)
    await pool.executemany(
        "INSERT INTO users (id, username, display_name, password_hash, created_at)"
        " VALUES ($1, $2, $2, '-', $3)",
        [(user, f"floor_{user.hex[:16]}", now) for user in users],
    )
    await pool.executemany(
        "INSERT INTO rooms (id, name, kind, is_private, owner_id, last_seq, created_at)"
        " VALUES ($1, 'floor', 'group', false, $2, 0, $3)",
        [(room, users[0], now) for room in rooms],
    )
    await pool.executemany(
        "INSERT INTO memberships (room_id, user_id, joined_at) VALUES ($1, $2, $3)",
        [(room, user, now) for room in rooms for user in users],
    )
    return users, rooms


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Sends change no session state, so a connection goes back to the pool as it is,
    without the default reset query (one more round trip per send)."""


async def main(database_url: str, plan: SendPlan, result: Path) -> None:
    async with asyncpg.create_pool(
        database_url, min_size=POOL_SIZE, max_size=POOL_SIZE, reset=_keep_session
    ) as pool:
        users, rooms = await seed(pool, plan)

        async def send_one(sender: int, n: int) -> None:
            room = rooms[plan.room_index(sender, n)]
            user = users[plan.account_index(sender)]
            await send(pool, room, user, plan.client_id(sender, n))

        await warm_up(plan, send_one)
        sent = await measure(plan, send_one)
    result.write_text(json.dumps(asdict(sent)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="asyncpg floor for persisted sends")
    parser.add_argument("--database-url", required=True, help="postgresql://… (asyncpg DSN)")
    parser.add_argument("--result", type=Path, required=True)
    SendPlan.add_arguments(parser)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.database_url, SendPlan.from_arguments(arguments), arguments.result))
