"""ORM models, one module per table. Importing this package registers them all on ``Base``."""

from parley.db.models.membership import Membership
from parley.db.models.message import Message, MessageKind
from parley.db.models.refresh_token import RefreshToken
from parley.db.models.room import Room, RoomKind
from parley.db.models.upload import Upload, UploadStatus
from parley.db.models.user import User

__all__ = [
    "Membership",
    "Message",
    "MessageKind",
    "RefreshToken",
    "Room",
    "RoomKind",
    "Upload",
    "UploadStatus",
    "User",
]
