// The shapes of what the server sends (docs/protocol.md), for the type check only.

/**
 * @typedef {object} User
 * @property {string} id
 * @property {string} username
 * @property {string} display_name
 */

/**
 * @typedef {object} Room
 * @property {string} id
 * @property {string} name
 * @property {"group" | "direct"} kind
 * @property {boolean} is_private
 * @property {string | null} owner_id
 * @property {string} created_at
 * @property {number} last_seq
 * @property {number} [unread_count] sent by servers that keep read markers
 * @property {User[]} [members] only in GET /api/rooms/{id}
 */

/**
 * @typedef {object} Attachment
 * @property {string} [upload_id]
 * @property {string} filename
 * @property {string} [content_type]
 * @property {number} [size]
 * @property {string} url
 * @property {"image" | "pdf" | "text"} kind
 * @property {number} [width]
 * @property {number} [height]
 * @property {string} [thumbnail_url]
 * @property {number} [pages]
 * @property {number} [lines]
 * @property {string} [text_preview]
 * @property {"joined" | "left" | "renamed"} [event] a system message's: what happened
 * @property {User} [user] a system message's: to whom (or by whom)
 */

/**
 * @typedef {object} Message
 * @property {string} id
 * @property {string} room_id
 * @property {number} seq
 * @property {"text" | "image" | "file" | "system"} kind
 * @property {User | null} sender
 * @property {string} body
 * @property {Attachment | null} attachment
 * @property {string | null} client_id
 * @property {string} created_at
 * @property {string | null} edited_at
 * @property {string | null} deleted_at
 */

/**
 * @typedef {object} MessagePage
 * @property {Message[]} items
 * @property {boolean} has_more
 */

/**
 * @typedef {object} Upload
 * @property {string} id
 * @property {"processing" | "done" | "failed"} status
 * @property {string | null} [error]
 * @property {string} room_id
 * @property {string} filename
 * @property {number} size
 */

/**
 * @typedef {object} TokenPair
 * @property {string} access_token
 * @property {string} refresh_token
 * @property {number} expires_in
 */

/**
 * @typedef {object} ErrorBody
 * @property {string} [error]
 * @property {string} [code]
 * @property {string} [detail]
 * @property {{loc: (string | number)[], msg: string}[]} [fields]
 */

/**
 * A frame from the server. Only the fields a given type carries are set.
 * @typedef {object} ServerFrame
 * @property {string} type
 * @property {User} [user]
 * @property {string} [room_id]
 * @property {Room} [room] in `room.added` and `room.updated`
 * @property {Message} [message]
 * @property {string} [client_id]
 * @property {"online" | "offline"} [status]
 * @property {Upload} [upload]
 * @property {string} [reason]
 * @property {string} [code]
 * @property {string} [detail]
 * @property {string | null} [ref]
 * @property {number} [last_seq]
 */

export {};
