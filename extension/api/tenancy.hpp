// Tenant isolation. A database role mapped to a tenant (taskflow.grant_tenant) is restricted to
// that tenant by every taskflow function and by row level security. The tenant always comes
// from the calling role (GetOuterUserId: the session's role outside SECURITY DEFINER), never
// from a setting the client can change. SPI must be connected.
#pragma once

#include <optional>
#include <string>

namespace taskflow::api {

// The tenant the caller is confined to: its mapped tenant; none (every tenant) for superusers
// and members of taskflow_admin or taskflow_worker; 'default' for any other role.
std::optional<std::string> CallerTenant();

// The tenant a new job or rule of the caller belongs to. A confined caller may only name its
// own tenant; 'default' (the parameters' default value) or none means its own tenant. Naming
// another tenant raises 42501.
std::string ResolveTenant(const std::optional<std::string>& requested);

// Drops this backend's cached tenant (the mapping changed in this transaction).
void ForgetCallerTenant();

// Whether the caller may see or act on rows of `tenant_id`.
bool CallerMaySee(const std::string& tenant_id);

}  // namespace taskflow::api
