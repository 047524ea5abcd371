//! The setup the same-answer cases share: everyone they need (`World`), and the
//! twin accounts whose state-changing cases run one per door (`Twins`).

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::accounts::{Account, Who, create_business, promote, register, rest_ok};
use crate::common::TestServer;
use crate::runner::{Case, Side};

/// Everyone the cases need.
pub struct World {
    pub addr: SocketAddr,
    pub owner: Account,
    pub admin: Account,
    pub viewer: Account,
    pub stranger: Account,
    pub padmin: Account,
    pub anon: Who,
    /// The business: owner, admin, viewer.
    pub shop: String,
    /// Twin throwaway businesses of the owner, one per door.
    pub throwaway: [String; 2],
}

impl World {
    pub async fn build(server: &TestServer) -> World {
        let addr = server.addr;
        let owner = register(addr, "owner").await;
        let admin = register(addr, "admin").await;
        let viewer = register(addr, "viewer").await;
        let stranger = register(addr, "stranger").await;
        let padmin = register(addr, "padmin").await;
        promote(server, &padmin.id).await;
        let shop = create_business(addr, &owner, "Shop").await;
        for (who, role) in [(&admin, "admin"), (&viewer, "viewer")] {
            rest_ok(
                addr,
                owner.token(),
                "member.add",
                json!({ "business_id": shop, "email": who.email, "role": role }),
            )
            .await;
        }
        let throwaway = [
            create_business(addr, &owner, "Throwaway").await,
            create_business(addr, &owner, "Throwaway").await,
        ];
        World {
            addr,
            owner,
            admin,
            viewer,
            stranger,
            padmin,
            anon: Who::anonymous(),
            shop,
            throwaway,
        }
    }

    /// Params naming the shop, plus `extra`'s.
    pub fn shop(&self, extra: Value) -> Value {
        params("business_id", &self.shop, extra)
    }

    /// Params naming a member of the shop, plus `extra`'s.
    pub fn member(&self, user: &str, extra: Value) -> Value {
        self.shop(params("user_id", user, extra))
    }
}

/// Params `{key: value}` plus `extra`'s.
pub fn params(key: &str, value: &str, extra: Value) -> Value {
    let mut m = json!({ key: value });
    if let (Value::Object(m), Value::Object(x)) = (&mut m, extra) {
        m.extend(x);
    }
    m
}

/// Two throwaway accounts, one the target of each door.
pub struct Twins(pub [Account; 2]);

impl Twins {
    /// Door `i`'s side: `who` calls with `params`; the twin's id and email
    /// stand for "the twin".
    pub fn side(&self, i: usize, who: &Who, params: Value) -> Side {
        let t = &self.0[i];
        Side::new(who, params)
            .sub(&t.id, "<twin id>")
            .sub(&t.email, "<twin email>")
    }

    /// The twin case where door `i` calls `params(twin i)` as `who(twin i)`.
    pub fn case(
        &self,
        what: &str,
        method: &'static str,
        who: impl Fn(&Account) -> Who,
        params: impl Fn(&Account) -> Value,
        expect: &'static str,
    ) -> Case {
        let [a, b] = &self.0;
        Case::twins(
            what,
            method,
            self.side(0, &who(a), params(a)),
            self.side(1, &who(b), params(b)),
            expect,
        )
    }
}
