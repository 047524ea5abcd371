//! The chat operations' params and results (the values they are made of are
//! in `values`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::values::{ChannelName, ClientId, Emoji, MessageBody};
use crate::ops::params::{Id, lenient_i64, lenient_u32};

/// Params of `chat.channel.create`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannel {
    /// The business.
    pub business_id: Id,
    /// The channel's name.
    pub name: ChannelName,
}

/// Params of `chat.direct.open`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenDirect {
    /// The business both members belong to.
    pub business_id: Id,
    /// The other member.
    pub user_id: Id,
}

/// Params of `chat.send`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// The chat.
    pub chat_id: Id,
    /// The client's id for this message: resending with the same id returns
    /// the stored message instead of sending it twice.
    pub client_id: ClientId,
    /// The text.
    pub body: MessageBody,
}

/// Params of `chat.edit`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    /// The message.
    pub message_id: Id,
    /// The new text.
    pub body: MessageBody,
}

/// Params naming a message.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRef {
    /// The message.
    pub message_id: Id,
}

fn yes() -> bool {
    true
}

/// Params of `chat.react`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct React {
    /// The message.
    pub message_id: Id,
    /// The reaction.
    pub emoji: Emoji,
    /// Add (`true`, the default) or remove (`false`) the caller's reaction.
    #[serde(default = "yes")]
    pub on: bool,
}

/// Params of `chat.history`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// The chat.
    pub chat_id: Id,
    /// Messages created before this sequence number (default: the newest).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub before: Option<i64>,
    /// Most messages to return (1..=100, default 50).
    #[serde(default, deserialize_with = "lenient_u32")]
    pub limit: Option<u32>,
}

/// Params of `chat.read`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// The chat.
    pub chat_id: Id,
    /// The newest sequence number the caller has seen (a message's `seq`, or
    /// any event's of the chat's topic).
    pub seq: u64,
}

/// Params of `chat.settings.update`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettings {
    /// The business.
    pub business_id: Id,
    /// Whether viewers may send (and edit and react to) messages.
    pub viewers_can_send: bool,
}

/// A chat: a channel or a direct conversation.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChatInfo {
    /// Its id.
    pub id: String,
    /// The business it belongs to.
    pub business_id: String,
    /// `channel` or `direct`.
    pub kind: String,
    /// The channel's name (`null` for direct chats).
    pub name: Option<String>,
    /// The topic its events go to: subscribe to follow it live.
    pub topic: String,
    /// Direct chats: the two participants' user ids (`null` for channels).
    pub member_ids: Option<Vec<String>>,
    /// Who created it.
    pub created_by: String,
    /// When (epoch ms).
    pub created_at: i64,
}

/// A chat in the caller's list, with their read state.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChatSummary {
    /// The chat.
    #[serde(flatten)]
    pub chat: ChatInfo,
    /// Sequence number of its newest message (0: none yet).
    pub last_seq: u64,
    /// The newest sequence number the caller has read (0: none).
    pub last_read_seq: u64,
    /// Messages after `last_read_seq` sent by others and not deleted; counted
    /// up to 1000 (show 1000 as "999+").
    pub unread: u64,
}

/// The caller's chats.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChatList {
    /// Channels (by name), then direct chats (oldest first).
    pub chats: Vec<ChatSummary>,
}

/// How many people gave one reaction to a message.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct ReactionCount {
    /// The reaction.
    pub emoji: String,
    /// How many people gave it.
    pub count: u64,
    /// Whether the caller is one of them.
    pub mine: bool,
}

/// A message.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Message {
    /// Its id.
    pub id: String,
    /// Its chat.
    pub chat_id: String,
    /// Who sent it.
    pub sender_id: String,
    /// Its text, exactly as sent (empty once deleted).
    pub body: String,
    /// The sender's client id for it.
    pub client_id: String,
    /// The sequence number of its `message.created` event in the chat's topic.
    pub seq: u64,
    /// When it was sent (epoch ms).
    pub created_at: i64,
    /// When it was last edited.
    pub edited_at: Option<i64>,
    /// When it was deleted (a tombstone: the body is empty).
    pub deleted_at: Option<i64>,
    /// Who deleted it (its sender, or a moderator).
    pub deleted_by: Option<String>,
    /// Its reactions, oldest first.
    pub reactions: Vec<ReactionCount>,
}

/// A page of a chat's history, newest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HistoryPage {
    /// The chat.
    pub chat_id: String,
    /// Its topic.
    pub topic: String,
    /// The topic's newest sequence number when the page was read: subscribe
    /// with `since` = this to get every later change, with nothing missed
    /// (messages newer than it may also be in the page; match them by id).
    pub topic_seq: u64,
    /// The newest sequence number the caller has read.
    pub last_read_seq: u64,
    /// The messages, newest first (deleted ones as tombstones).
    pub messages: Vec<Message>,
    /// Pass as `before` for the next, older page; `null` when there is none.
    pub next_before: Option<u64>,
}

/// The caller's read state in a chat.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReadState {
    /// The chat.
    pub chat_id: String,
    /// The newest sequence number read (never goes back).
    pub last_read_seq: u64,
    /// Unread messages left (as in `chat.list`).
    pub unread: u64,
}

/// The outcome of `chat.react`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Reacted {
    /// The message.
    pub message_id: String,
    /// Whether anything changed (false: the reaction was already so).
    pub changed: bool,
    /// The message's reactions now.
    pub reactions: Vec<ReactionCount>,
}

/// A business's chat settings.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Settings {
    /// The business.
    pub business_id: String,
    /// Whether viewers may send messages.
    pub viewers_can_send: bool,
}
