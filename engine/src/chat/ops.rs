//! The chat operations' registration: names, permissions, REST routes.
//!
//! Operations naming a business (`business_id`) are checked by the registry
//! (non-members get `not_found`); those naming a chat or a message check in
//! the handler that the caller sees it (`access`), with the same answer.

use super::Chat;
use super::types::{
    CreateChannel, EditMessage, History, MarkRead, MessageRef, OpenDirect, React, SendMessage,
    UpdateSettings,
};
use crate::audit::AuditLog;
use crate::ops::{HttpMethod, OpSpec, OpsBuilder, Permission};
use crate::tenancy::Role;
use crate::tenancy::ops::BusinessRef;

impl Chat {
    /// The audit log the service was given (moderation and settings changes
    /// are recorded in their own transactions).
    pub fn audit(&self) -> &AuditLog {
        &self.inner.audit
    }

    /// Registers the `chat.*` operations.
    pub fn register_ops(&self, ops: &mut OpsBuilder) {
        let c = self.clone();
        ops.register(
            OpSpec::write(
                "chat.channel.create",
                "Create a channel (name: a slug like `general`); agents and above",
                Permission::Member(Role::Agent),
                false,
            )
            .at(HttpMethod::Post, "/businesses/{business_id}/chat/channels"),
            move |ctx, p: CreateChannel| {
                let c = c.clone();
                async move { c.create_channel(&ctx, p).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::read(
                "chat.list",
                "The business's channels and the caller's direct chats, with unread counts",
                Permission::Member(Role::Viewer),
            )
            .at(HttpMethod::Get, "/businesses/{business_id}/chats"),
            move |ctx, p: BusinessRef| {
                let c = c.clone();
                async move { c.list(&ctx, p.business_id.as_str()).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::write(
                "chat.direct.open",
                "The direct chat between the caller and another member (created on first use)",
                Permission::Member(Role::Viewer),
                true,
            )
            .at(HttpMethod::Post, "/businesses/{business_id}/chat/direct"),
            move |ctx, p: OpenDirect| {
                let c = c.clone();
                async move { c.open_direct(&ctx, p).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::write(
                "chat.send",
                "Send a message; resending the same client_id returns the stored message",
                Permission::User,
                true,
            )
            .at(HttpMethod::Post, "/chats/{chat_id}/messages"),
            move |ctx, p: SendMessage| {
                let c = c.clone();
                async move { c.send(&ctx, p).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::write(
                "chat.edit",
                "Change the text of one's own message",
                Permission::User,
                true,
            )
            .at(HttpMethod::Patch, "/chat/messages/{message_id}"),
            move |ctx, p: EditMessage| {
                let c = c.clone();
                async move { c.edit(&ctx, p).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::write(
                "chat.delete",
                "Delete a message (its sender, or an owner or admin), leaving a tombstone",
                Permission::User,
                true,
            )
            .at(HttpMethod::Delete, "/chat/messages/{message_id}"),
            move |ctx, p: MessageRef| {
                let c = c.clone();
                async move { c.delete(&ctx, p.message_id.as_str()).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::write(
                "chat.react",
                "Add (on: true) or remove (on: false) the caller's reaction to a message",
                Permission::User,
                true,
            )
            .at(HttpMethod::Post, "/chat/messages/{message_id}/reactions"),
            move |ctx, p: React| {
                let c = c.clone();
                async move { c.react(&ctx, p).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::read(
                "chat.history",
                "A page of a chat's messages, newest first, before a sequence number",
                Permission::User,
            )
            .at(HttpMethod::Get, "/chats/{chat_id}/messages"),
            move |ctx, p: History| {
                let c = c.clone();
                async move { c.history(&ctx, p).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::write(
                "chat.read",
                "Mark a chat read up to a sequence number (never moves back)",
                Permission::User,
                true,
            )
            .at(HttpMethod::Post, "/chats/{chat_id}/read"),
            move |ctx, p: MarkRead| {
                let c = c.clone();
                async move { c.mark_read(&ctx, p).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::read(
                "chat.settings.get",
                "The business's chat settings",
                Permission::Member(Role::Viewer),
            )
            .at(HttpMethod::Get, "/businesses/{business_id}/chat/settings"),
            move |_ctx, p: BusinessRef| {
                let c = c.clone();
                async move { c.settings(p.business_id.as_str()).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::write(
                "chat.settings.update",
                "Change the business's chat settings (whether viewers may send); admins and owners",
                Permission::Member(Role::Admin),
                true,
            )
            .at(HttpMethod::Patch, "/businesses/{business_id}/chat/settings"),
            move |ctx, p: UpdateSettings| {
                let c = c.clone();
                async move {
                    c.update_settings(&ctx, p.business_id.as_str(), p.viewers_can_send)
                        .await
                }
            },
        );
    }
}
