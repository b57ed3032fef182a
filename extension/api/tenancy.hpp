// Tenant isolation. A database role mapped to a tenant (taskflow.grant_tenant) is restricted to
// that tenant by every taskflow function and by row level security (whose policies call
// taskflow._caller_tenant(), i.e. CallerTenant below: the rule lives only here). The tenant
// always comes from roles, never from a setting or a parameter the client can change:
//  - the roles a role is confined by: the mapped roles it is, or inherits from (directly or
//    through other roles; NOINHERIT memberships are not inherited, as for privileges);
//  - the session is confined by the union of those of the current role (GetOuterUserId: the
//    role set by SET ROLE, outside SECURITY DEFINER) and of the session user (the login role),
//    so SET ROLE to any role cannot leave the tenant of the login role;
//  - one tenant: confined to it; two or more: every call is refused (42501);
//  - none: every tenant for superusers and members of taskflow_admin or taskflow_worker (the
//    current role's privileges), 'default' for any other role. A current role that is a
//    superuser is never confined.
// Cached per backend (per role), dropped when the mapping changes (any backend, at commit) or
// when pg_authid / pg_auth_members change (PostgreSQL's catalog invalidations). SPI must be
// connected.
#pragma once

#include <optional>
#include <string>

namespace taskflow::api {

// The tenant the caller is confined to, or none (every tenant). Raises 42501 when the session
// is confined to more than one tenant.
std::optional<std::string> CallerTenant();

// The tenant a new job or rule of the caller belongs to. A confined caller may only name its
// own tenant; 'default' (the parameters' default value) or none means its own tenant. Naming
// another tenant raises 42501.
std::string ResolveTenant(const std::optional<std::string>& requested);

// Drops this backend's cached tenants (the mapping changed in this transaction).
void ForgetCallerTenant();

// The worker protocol (acquire, heartbeat, complete, fail, release) is for roles that see every
// tenant: a confined session is refused with 42501 before any row is read or locked.
void RequireUnconfined(const char* function);

}  // namespace taskflow::api
