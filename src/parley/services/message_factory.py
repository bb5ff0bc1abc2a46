"""The Factory: the one place that decides what a message of each kind carries."""

from __future__ import annotations

from typing import Any

from parley.db.message_record import Sender
from parley.db.models import MessageKind, User
from parley.repositories.messages import NewMessage
from parley.schemas.system_events import SystemEvent

__all__ = ["MessageFactory"]


class MessageFactory:
    """Builds every message before it is stored: text, image, file and system.

    System messages have no sender; their body is a readable sentence and their
    ``attachment`` says what happened, for clients that render it themselves.
    """

    @staticmethod
    def text(sender: Sender, body: str, client_id: str | None) -> NewMessage:
        return NewMessage(kind=MessageKind.TEXT, sender=sender, body=body, client_id=client_id)

    @staticmethod
    def attachment(sender: Sender | None, attachment: dict[str, Any], *, image: bool) -> NewMessage:
        return NewMessage(
            kind=MessageKind.IMAGE if image else MessageKind.FILE,
            sender=sender,
            body=str(attachment.get("filename", "")),
            attachment=attachment,
        )

    @staticmethod
    def joined(user: User) -> NewMessage:
        return _system(f"{user.display_name} joined", SystemEvent.JOINED, user)

    @staticmethod
    def left(user: User) -> NewMessage:
        return _system(f"{user.display_name} left", SystemEvent.LEFT, user)

    @staticmethod
    def renamed(user: User, old_name: str, new_name: str) -> NewMessage:
        message = _system(
            f"{user.display_name} renamed the room to {new_name}", SystemEvent.RENAMED, user
        )
        assert message.attachment is not None  # noqa: S101
        return NewMessage(
            kind=message.kind,
            sender=None,
            body=message.body,
            attachment={**message.attachment, "old_name": old_name, "new_name": new_name},
        )


def _system(body: str, event: str, user: User) -> NewMessage:
    return NewMessage(
        kind=MessageKind.SYSTEM,
        sender=None,
        body=body,
        attachment={
            "event": event,
            "user": {
                "id": str(user.id),
                "username": user.username,
                "display_name": user.display_name,
            },
        },
    )
