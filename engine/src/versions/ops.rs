//! The registration of the `version.*` operations (handlers in `reads.rs`
//! and `changes.rs`). All need a signed-in user ([`Permission::User`]);
//! access to the document is checked inside, as the module overview says.
//!
//! REST routes (a document name URL-encoded as one path segment, as for
//! comments: `biz%2Fb1%2Fws%2Fw1%2Fd1`; the diff has its own path because
//! the router cannot tell `{from}` from `{version_id}` at one position):
//!
//! | operation | route |
//! | --- | --- |
//! | `version.create` | `POST /docs/{doc}/versions` |
//! | `version.list` | `GET /docs/{doc}/versions?limit=&before=` |
//! | `version.get` | `GET /docs/{doc}/versions/{version_id}?format=` |
//! | `version.diff` | `GET /docs/{doc}/diff?from=&to=` |
//! | `version.restore` | `POST /docs/{doc}/versions/{version_id}/restore` |

use super::Versions;
use super::params::{CreateVersion, DiffVersions, GetVersion, ListVersions, RestoreVersion};
use crate::ops::{HttpMethod, OpSpec, OpsBuilder, Permission};

impl Versions {
    /// Registers the `version.*` operations.
    pub fn register_ops(&self, ops: &mut OpsBuilder) {
        let v = self.clone();
        ops.register(
            OpSpec::write(
                "version.create",
                "Save the document's current content as a named version (needs write access to the document)",
                Permission::User,
                false,
            )
            .at(HttpMethod::Post, "/docs/{doc}/versions"),
            move |ctx, p: CreateVersion| {
                let v = v.clone();
                async move { v.create(&ctx, p).await }
            },
        );
        let v = self.clone();
        ops.register(
            OpSpec::read(
                "version.list",
                "A document's versions (named, automatic, before a restore), newest first",
                Permission::User,
            )
            .at(HttpMethod::Get, "/docs/{doc}/versions"),
            move |ctx, p: ListVersions| {
                let v = v.clone();
                async move { v.list(&ctx, p).await }
            },
        );
        let v = self.clone();
        ops.register(
            OpSpec::read(
                "version.get",
                "A version's content: JSON of its top-level types, or a Yjs update (v1 or v2, base64)",
                Permission::User,
            )
            .at(HttpMethod::Get, "/docs/{doc}/versions/{version_id}"),
            move |ctx, p: GetVersion| {
                let v = v.clone();
                async move { v.get(&ctx, p).await }
            },
        );
        let v = self.clone();
        ops.register(
            OpSpec::read(
                "version.diff",
                "What changed between two versions (or a version and the current document), and who edited each changed top-level type",
                Permission::User,
            )
            .at(HttpMethod::Get, "/docs/{doc}/diff"),
            move |ctx, p: DiffVersions| {
                let v = v.clone();
                async move { v.diff(&ctx, p).await }
            },
        );
        let v = self.clone();
        ops.register(
            OpSpec::write(
                "version.restore",
                "Give the document a version's content again, as a new change on top (open editors converge; the replaced content is kept as a version; needs write access)",
                Permission::User,
                false,
            )
            .at(HttpMethod::Post, "/docs/{doc}/versions/{version_id}/restore"),
            move |ctx, p: RestoreVersion| {
                let v = v.clone();
                async move { v.restore(&ctx, p).await }
            },
        );
    }
}
