//! Which account a sign-in lands in: a new one created and linked, the same
//! one found again by subject, an existing password account linked by verified
//! email; unverified emails, suspended and deleted accounts refused.

use goonline_engine::testing::each_backend;

use crate::common::oidc_provider::TestUser;
use crate::rig::{Rig, ann, assert_error};

pub async fn a_new_user_is_created_and_linked() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        let r = rig.sign_in().await;
        assert_eq!(r.status, 200, "[{}] {r:?}", rig.label);
        let tokens = r.json();
        let user = rig.linked_user("sub-ann").await.expect("linked");
        assert_eq!(tokens["access_token"], format!("access-for-{user}"));
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(rig.sessions.users(), vec![user.clone()]);

        let (email, name, hash): (Option<String>, String, Option<String>) =
            sqlx::query_as("SELECT email, display_name, password_hash FROM users WHERE id = $1")
                .bind(&user)
                .fetch_one(rig.db.pool())
                .await
                .expect("user row");
        assert_eq!(email.as_deref(), Some("ann@example.com"), "lower-cased");
        assert_eq!(name, "Ann Lee");
        assert_eq!(hash, None, "external-only accounts have no password");
        assert_eq!(rig.count("SELECT COUNT(*) FROM oidc_pending").await, 0);

        let logins = rig.logins().await;
        assert_eq!(logins.len(), 1, "[{}] {logins:?}", rig.label);
        assert_eq!(logins[0].0, "ok");
        assert_eq!(logins[0].1["method"], "oidc");
        assert_eq!(logins[0].1["link"], "created");
        assert_eq!(logins[0].2.as_deref(), Some("127.0.0.1"));
        // client_secret_basic unless the provider asks otherwise.
        assert_eq!(rig.provider.client_auth_methods(), vec!["basic"]);
    })
    .await;
}

pub async fn a_second_sign_in_finds_the_same_user_by_subject() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        assert_eq!(rig.sign_in().await.status, 200);
        // The address changed and is not verified now: the subject decides.
        rig.provider.set_user(TestUser {
            subject: "sub-ann".into(),
            email: Some("ann.new@example.com".into()),
            email_verified: false,
            name: None,
        });
        let r = rig.sign_in().await;
        assert_eq!(r.status, 200, "[{}] {r:?}", rig.label);
        let users = rig.sessions.users();
        assert_eq!(users.len(), 2);
        assert_eq!(users[0], users[1], "[{}] same account", rig.label);
        assert_eq!(rig.count("SELECT COUNT(*) FROM users").await, 1);
        assert_eq!(
            rig.count("SELECT COUNT(*) FROM external_identities").await,
            1
        );
        assert_eq!(rig.logins().await[1].1["link"], "subject");
    })
    .await;
}

pub async fn a_verified_email_links_only_an_account_without_a_password() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        // Someone registered ann's address with a password; nothing proved it
        // was theirs. Linking would let them into ann's account: refused.
        rig.insert_user("squatter", "ann@example.com").await;
        let r = rig.sign_in().await;
        assert_error(&r, 409, "conflict", rig.label);
        assert!(rig.sessions.users().is_empty(), "[{}]", rig.label);
        assert_eq!(rig.linked_user("sub-ann").await, None, "[{}]", rig.label);
        assert_eq!(
            rig.count("SELECT COUNT(*) FROM users").await,
            1,
            "[{}] nothing created",
            rig.label
        );
        assert_eq!(rig.logins().await[0].0, "denied", "[{}]", rig.label);

        // An account without a password (made through a provider) is linked by
        // its verified email, not duplicated.
        sqlx::query(
            "INSERT INTO users (id, email, display_name, created_at, updated_at) \
             VALUES ('provider-bo', 'bo@example.com', 'Bo', 1, 1)",
        )
        .execute(rig.db.pool())
        .await
        .expect("insert user");
        rig.provider.set_user(TestUser {
            subject: "sub-bo".into(),
            email: Some("bo@example.com".into()),
            email_verified: true,
            name: Some("Bo".into()),
        });
        let r = rig.sign_in().await;
        assert_eq!(r.status, 200, "[{}] {r:?}", rig.label);
        assert_eq!(rig.sessions.users(), vec!["provider-bo".to_string()]);
        assert_eq!(
            rig.linked_user("sub-bo").await.as_deref(),
            Some("provider-bo")
        );
        assert_eq!(
            rig.count("SELECT COUNT(*) FROM users").await,
            2,
            "not duplicated"
        );
        assert_eq!(rig.logins().await[1].1["link"], "email");
    })
    .await;
}

pub async fn an_unverified_email_without_a_link_is_refused() {
    each_backend(|db| async move {
        let unverified = TestUser {
            email_verified: false,
            ..ann()
        };
        let rig = Rig::start(db, unverified).await;
        // Neither to an existing account with that address...
        rig.insert_user("existing-ann", "ann@example.com").await;
        let r = rig.sign_in().await;
        assert_error(&r, 403, "forbidden", rig.label);
        // ...nor to a new one.
        rig.provider.set_user(TestUser {
            subject: "sub-bo".into(),
            email: Some("bo@example.com".into()),
            email_verified: false,
            name: None,
        });
        assert_error(&rig.sign_in().await, 403, "forbidden", rig.label);
        // No email at all is the same.
        rig.provider.set_user(TestUser {
            subject: "sub-cy".into(),
            email: None,
            email_verified: true,
            name: Some("Cy".into()),
        });
        assert_error(&rig.sign_in().await, 403, "forbidden", rig.label);

        assert!(rig.sessions.users().is_empty());
        assert_eq!(rig.count("SELECT COUNT(*) FROM users").await, 1);
        assert_eq!(
            rig.count("SELECT COUNT(*) FROM external_identities").await,
            0
        );
        let logins = rig.logins().await;
        assert_eq!(logins.len(), 3);
        for (outcome, detail, _) in logins {
            assert_eq!(outcome, "denied");
            assert_eq!(detail["reason"], "unverified_email");
        }
    })
    .await;
}

pub async fn suspended_and_deleted_accounts_are_refused() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        assert_eq!(rig.sign_in().await.status, 200);
        let user = rig.linked_user("sub-ann").await.expect("linked");
        let set = |sql: &'static str| {
            let (db, user) = (rig.db.clone(), user.clone());
            async move {
                sqlx::query(sql)
                    .bind(user)
                    .execute(db.pool())
                    .await
                    .expect("update");
            }
        };
        set("UPDATE users SET suspended = 1 WHERE id = $1").await;
        assert_error(&rig.sign_in().await, 403, "forbidden", rig.label);
        set("UPDATE users SET suspended = 0, deleted = 1, email = NULL WHERE id = $1").await;
        assert_error(&rig.sign_in().await, 401, "unauthorized", rig.label);
        assert_eq!(rig.sessions.users().len(), 1, "only the first sign-in");
    })
    .await;
}
