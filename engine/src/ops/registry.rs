//! The operation registry: every operation registered once, with its typed
//! handler, and one `call` path that both transports use. The registry checks
//! sign-in, permission and params, applies idempotency keys, then runs the
//! handler; so REST and the socket cannot differ in what they allow or answer.

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::caller::{Caller, UserRef};
use super::error::OpError;
use super::idempotency::{Claim, IdempotencyStore};
use super::params;
use super::spec::{OpSpec, Permission};
use crate::tenancy::Role;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a handler knows about its call besides the params.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Who called.
    pub caller: Caller,
    /// For [`Permission::Member`] operations: the business and the caller's role
    /// in it, already checked.
    pub membership: Option<(String, Role)>,
}

impl Ctx {
    /// The signed-in user (the registry has checked there is one unless the
    /// operation is public).
    pub fn user(&self) -> Result<&UserRef, OpError> {
        self.caller
            .user
            .as_ref()
            .ok_or_else(|| OpError::Unauthorized("sign in first".into()))
    }

    /// The caller's role in the operation's business.
    pub fn role(&self) -> Option<Role> {
        self.membership.as_ref().map(|(_, r)| *r)
    }
}

/// Looks up a user's role in a business (the tenancy store implements it).
pub trait RoleLookup: Send + Sync + 'static {
    /// `None` when the business does not exist or the user is not a member.
    fn role_of<'a>(
        &'a self,
        business_id: &'a str,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Role>, OpError>>;
}

type Parsed = Box<dyn Any + Send>;
type ParseFn = Box<dyn Fn(Value) -> Result<Parsed, OpError> + Send + Sync>;
type RunFn = Box<dyn Fn(Ctx, Parsed) -> BoxFuture<'static, Result<Value, OpError>> + Send + Sync>;
type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// One registered operation.
pub struct Operation {
    /// Its declaration.
    pub spec: OpSpec,
    /// JSON Schema of its params (a `$ref` into the generator's definitions).
    pub params_schema: SchemaFn,
    /// JSON Schema of its result.
    pub result_schema: SchemaFn,
    parse: ParseFn,
    run: RunFn,
}

/// Collects operations at start-up; [`OpsBuilder::build`] freezes them.
pub struct OpsBuilder {
    ops: BTreeMap<&'static str, Operation>,
}

impl Default for OpsBuilder {
    fn default() -> Self {
        OpsBuilder::new()
    }
}

impl OpsBuilder {
    /// An empty registry.
    pub fn new() -> OpsBuilder {
        OpsBuilder {
            ops: BTreeMap::new(),
        }
    }

    /// Registers `handler` for `spec`. Params are decoded into `P` (errors name
    /// the field); the result is serialized from `R`.
    ///
    /// # Panics
    /// If an operation of the same name is already registered (a start-up bug).
    pub fn register<P, R, F, Fut>(&mut self, spec: OpSpec, handler: F) -> &mut Self
    where
        P: DeserializeOwned + JsonSchema + Send + 'static,
        R: Serialize + JsonSchema + 'static,
        F: Fn(Ctx, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, OpError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let op = Operation {
            spec,
            params_schema: |g| g.subschema_for::<P>(),
            result_schema: |g| g.subschema_for::<R>(),
            parse: Box::new(|v| params::decode::<P>(v).map(|p| Box::new(p) as Parsed)),
            run: Box::new(move |ctx, parsed| {
                let handler = handler.clone();
                Box::pin(async move {
                    let p = parsed
                        .downcast::<P>()
                        .map_err(|_| OpError::Internal("params of the wrong type".into()))?;
                    let r = handler(ctx, *p).await?;
                    serde_json::to_value(r)
                        .map_err(|e| OpError::Internal(format!("result does not serialize: {e}")))
                })
            }),
        };
        assert!(
            self.ops.insert(spec.name, op).is_none(),
            "operation `{}` registered twice",
            spec.name
        );
        self
    }

    /// Freezes the registry.
    pub fn build(self, roles: Arc<dyn RoleLookup>, idempotency: IdempotencyStore) -> Registry {
        Registry {
            ops: self.ops,
            roles,
            idempotency,
        }
    }
}

/// The frozen registry, shared by REST and socket transports.
pub struct Registry {
    ops: BTreeMap<&'static str, Operation>,
    roles: Arc<dyn RoleLookup>,
    idempotency: IdempotencyStore,
}

impl Registry {
    /// Every operation, by name.
    pub fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.ops.values()
    }

    /// The operation called `name`.
    pub fn get(&self, name: &str) -> Option<&Operation> {
        self.ops.get(name)
    }

    /// The idempotency store (for the purge task).
    pub fn idempotency(&self) -> &IdempotencyStore {
        &self.idempotency
    }

    /// Runs `method` for `caller`: checks sign-in and permission, decodes the
    /// params, applies `idempotency_key` to state-changing calls (ignored by reads
    /// and by operations that return credentials), runs the handler.
    pub async fn call(
        &self,
        caller: Caller,
        method: &str,
        params: Value,
        idempotency_key: Option<&str>,
    ) -> Result<Value, OpError> {
        let op = self
            .ops
            .get(method)
            .ok_or_else(|| OpError::NotFound(format!("unknown method `{method}`")))?;
        // The params' shape first, as REST checks its body first: both doors
        // answer a non-object the same way whoever calls.
        if !(params.is_null() || params.is_object()) {
            return Err(OpError::invalid("", "params must be an object"));
        }
        let membership = self.authorize(&caller, &op.spec, &params).await?;
        let key = match idempotency_key {
            // Anonymous callers share no identity a stored outcome could be
            // scoped to: their keys are ignored.
            Some(k) if op.spec.idempotency_keys && caller.user.is_some() => {
                IdempotencyStore::validate_key(k)?;
                Some(k)
            }
            _ => None,
        };
        let fingerprint = key.map(|_| IdempotencyStore::fingerprint(method, &params));
        // Decoded before the key is claimed: a call that fails validation has not
        // started, and a corrected retry may reuse its key.
        let parsed = (op.parse)(params)?;
        let scope = caller.user_id().unwrap_or("anon").to_string();
        if let (Some(key), Some(fp)) = (key, fingerprint.as_deref()) {
            match self.idempotency.claim(&scope, key, method, fp).await? {
                Claim::Replay(outcome) => return outcome,
                Claim::Run => {}
            }
        }
        let ctx = Ctx { caller, membership };
        let outcome = (op.run)(ctx, parsed).await;
        if let Some(key) = key {
            self.idempotency.finish(&scope, key, &outcome).await;
        }
        outcome
    }

    async fn authorize(
        &self,
        caller: &Caller,
        spec: &OpSpec,
        params: &Value,
    ) -> Result<Option<(String, Role)>, OpError> {
        let user = match (&spec.permission, &caller.user) {
            (Permission::Public, _) => return Ok(None),
            (_, None) => {
                return Err(OpError::Unauthorized(format!(
                    "`{}` needs a signed-in user: send an access token",
                    spec.name
                )));
            }
            (_, Some(user)) => user,
        };
        match spec.permission {
            Permission::Public | Permission::User => Ok(None),
            Permission::PlatformAdmin if user.platform_admin => Ok(None),
            Permission::PlatformAdmin => Err(OpError::Forbidden(format!(
                "`{}` is for platform admins",
                spec.name
            ))),
            Permission::Member(min) => {
                let business = match params.get("business_id") {
                    Some(Value::String(s)) if !s.is_empty() && s.len() <= 64 => s.clone(),
                    Some(_) => {
                        return Err(OpError::invalid("business_id", "must be a business id"));
                    }
                    None => {
                        return Err(OpError::invalid(
                            "business_id",
                            "missing field `business_id`",
                        ));
                    }
                };
                match self.roles.role_of(&business, &user.id).await? {
                    None => Err(OpError::NotFound(format!(
                        "business `{business}` not found"
                    ))),
                    Some(role) if role >= min => Ok(Some((business, role))),
                    Some(role) => Err(OpError::Forbidden(format!(
                        "`{}` needs the {min} role or above; you are {role}",
                        spec.name
                    ))),
                }
            }
        }
    }
}
