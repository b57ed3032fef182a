#include <algorithm>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "api/tenancy.hpp"
#include "pg/guard.hpp"
#include "pg/shared_state.hpp"
#include "pg/spi.hpp"

namespace taskflow::api {

using core::DomainError;
using core::ErrorCode;

namespace {

// What one role contributes to the session's tenant (see tenancy.hpp).
struct RoleInfo {
  bool superuser = false;
  bool privileged = false;  // member of taskflow_admin or taskflow_worker (has their privileges)
  std::string name;
  // (tenant, mapped role) for every mapped role this role is or inherits from, sorted
  std::vector<std::pair<std::string, std::string>> mapped;
};

// Per-backend caches. `roles` is dropped when the mapping's generation changes or a catalog
// invalidation of pg_authid / pg_auth_members arrives; `last` remembers the answer for the
// last (current role, session user) pair.
struct Cache {
  bool valid = false;
  std::uint64_t generation = 0;
  std::unordered_map<Oid, RoleInfo> roles;
};
Cache cache;
struct Last {
  bool valid = false;
  Oid current = InvalidOid;
  Oid session = InvalidOid;
  std::optional<std::string> tenant;
};
Last last;
volatile bool catalog_changed = false;
bool callbacks_registered = false;

// Syscache callback: role membership or a role's attributes (inherit, superuser, name) changed
// somewhere. Must not fail: only sets a flag.
void OnRoleCatalogChange(Datum, int, uint32) { catalog_changed = true; }

bool IsMemberOf(Oid role, const char* group) {
  return pg::PgCall([&] {
    Oid g = get_role_oid(group, true);
    return OidIsValid(g) && has_privs_of_role(role, g);
  });
}

// The mapped roles `role` is or inherits from: memberships are followed from a role only when
// it inherits (PostgreSQL 15: the role's INHERIT attribute; 16+: the grant's INHERIT option),
// and pg_has_role(..., 'USAGE') confirms each one with PostgreSQL's own rule.
RoleInfo LookUpRole(Oid role) {
  auto hit = cache.roles.find(role);
  if (hit != cache.roles.end()) return hit->second;
  static pg::Statement mapped(
#if PG_VERSION_NUM >= 160000
      "WITH RECURSIVE up(r) AS (SELECT $1::oid UNION "
      "  SELECT m.roleid FROM up JOIN pg_catalog.pg_auth_members m "
      "    ON m.member = up.r AND m.inherit_option) "
#else
      "WITH RECURSIVE up(r) AS (SELECT $1::oid UNION "
      "  SELECT m.roleid FROM up JOIN pg_catalog.pg_roles a ON a.oid = up.r AND a.rolinherit "
      "  JOIN pg_catalog.pg_auth_members m ON m.member = up.r) "
#endif
      "SELECT t.tenant_id, t.role_name::text FROM up "
      "JOIN taskflow.tenant_roles t ON t.role_name = up.r "
      "WHERE pg_catalog.pg_has_role($1, up.r, 'USAGE') ORDER BY 1, 2",
      {OIDOID});
  RoleInfo info;
  pg::Params p;
  p.Add(ObjectIdGetDatum(role));
  std::uint64_t n = p.Run(mapped, true);
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    info.mapped.emplace_back(row.Text(1).value_or(""), row.Text(2).value_or(""));
  }
  info.superuser = pg::PgCall([&] { return superuser_arg(role); });
  info.privileged = IsMemberOf(role, "taskflow_admin") || IsMemberOf(role, "taskflow_worker");
  char* name = pg::PgCall([&] { return GetUserNameFromId(role, true); });
  info.name = name != nullptr ? std::string(name) : std::to_string(role);
  if (cache.roles.size() >= 1000) cache.roles.clear();  // bounded: many SET ROLE targets
  cache.roles.emplace(role, info);
  return info;
}

[[noreturn]] void RefuseSeveralTenants(const RoleInfo& current, const RoleInfo* session) {
  std::vector<std::string> tenants;
  std::string detail;
  auto add = [&](const RoleInfo& r) {
    for (const auto& [tenant, via] : r.mapped) {
      if (std::find(tenants.begin(), tenants.end(), tenant) == tenants.end()) {
        tenants.push_back(tenant);
      }
      if (!detail.empty()) detail += "; ";
      detail += "role \"" + r.name + "\" is confined to tenant \"" + tenant + "\"" +
                (via == r.name ? std::string() : " through role \"" + via + "\"");
    }
  };
  if (session != nullptr) add(*session);
  add(current);
  std::string list;
  for (const auto& t : tenants) list += (list.empty() ? "\"" : ", \"") + t + "\"";
  throw DomainError(
      ErrorCode::InsufficientPrivilege,
      "permission denied: this session is confined to more than one tenant (" + list + ")",
      "A role, every role that inherits from it and every session it logs in "
      "acts for one tenant only: revoke one of the memberships, or use a role of "
      "one tenant.",
      detail + ".");
}

std::optional<std::string> ComputeTenant(Oid current, Oid session) {
  RoleInfo c = LookUpRole(current);
  if (c.superuser) return std::nullopt;  // nothing confines a superuser
  std::optional<RoleInfo> s;
  if (session != current && OidIsValid(session)) {
    s = LookUpRole(session);
    if (s->superuser) s.reset();  // a superuser's session may SET ROLE to anyone
  }
  const RoleInfo* ses = s ? &*s : nullptr;
  std::optional<std::string> tenant;
  bool several = false;
  auto merge = [&](const RoleInfo& r) {
    for (const auto& m : r.mapped) {
      if (!tenant)
        tenant = m.first;
      else if (*tenant != m.first)
        several = true;
    }
  };
  merge(c);
  if (ses != nullptr) merge(*ses);
  if (several) RefuseSeveralTenants(c, ses);
  if (tenant) return tenant;
  if (c.privileged) return std::nullopt;
  return std::string("default");
}

}  // namespace

std::optional<std::string> CallerTenant() {
  if (!callbacks_registered) {
    pg::PgCall([] {
      CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, OnRoleCatalogChange, Datum(0));
      CacheRegisterSyscacheCallback(AUTHOID, OnRoleCatalogChange, Datum(0));
    });
    callbacks_registered = true;
    catalog_changed = true;
  }
  Oid current = GetOuterUserId();
  Oid session = GetSessionUserId();
  std::uint64_t generation = pg::TenantGeneration();
  if (catalog_changed || !cache.valid || cache.generation != generation) {
    catalog_changed = false;
    cache.roles.clear();
    cache.valid = true;
    cache.generation = generation;
    last.valid = false;
  }
  if (!last.valid || last.current != current || last.session != session) {
    last.valid = false;
    std::optional<std::string> tenant = ComputeTenant(current, session);
    last = {true, current, session, tenant};
  }
  // An error of a confined caller shows no internal statement or row position (a lock wait
  // on a row would otherwise name its ctid).
  if (last.tenant) pg::HideInternalErrorContext();
  return last.tenant;
}

std::string ResolveTenant(const std::optional<std::string>& requested) {
  std::optional<std::string> own = CallerTenant();
  if (!own) return requested.value_or("default");
  if (!requested || *requested == "default" || *requested == *own) return *own;
  throw DomainError(
      ErrorCode::InsufficientPrivilege, "permission denied for tenant \"" + *requested + "\"",
      "This role is confined to tenant \"" + *own + "\"; omit tenant_id or pass its own tenant.");
}

void ForgetCallerTenant() {
  cache.valid = false;
  last.valid = false;
}

void RequireUnconfined(const char* function) {
  std::optional<std::string> own = CallerTenant();
  if (!own) return;
  throw DomainError(ErrorCode::InsufficientPrivilege,
                    std::string("permission denied for function ") + function +
                        ": this session is confined to tenant \"" + *own + "\"",
                    "The worker protocol is for roles that see every tenant (taskflow_worker, "
                    "taskflow_admin) and are not confined to a tenant by a mapping or a "
                    "membership.");
}

}  // namespace taskflow::api

using namespace taskflow;

// taskflow._caller_tenant() RETURNS text: NULL when the caller sees every tenant.
TF_FUNCTION(taskflow_caller_tenant) {
  std::optional<std::string> tenant;
  {
    pg::SpiConnection spi;
    tenant = api::CallerTenant();
  }
  if (!tenant) PG_RETURN_NULL();
  return pg::TextDatum(*tenant);
}

// taskflow._resolve_tenant(requested text) RETURNS text: see ResolveTenant.
TF_FUNCTION(taskflow_resolve_tenant) {
  std::optional<std::string> requested = pg::ArgOptText(fcinfo, 0);
  std::string tenant;
  {
    pg::SpiConnection spi;
    tenant = api::ResolveTenant(requested);
  }
  return pg::TextDatum(tenant);
}

// taskflow._tenant_mapping_changed() RETURNS void: called by grant_tenant/revoke_tenant so
// every backend drops its cached tenant when this transaction commits.
TF_FUNCTION(taskflow_tenant_mapping_changed) {
  pg::TenantMappingChanged();
  api::ForgetCallerTenant();  // this backend at once; the others when the transaction commits
  PG_RETURN_VOID();
}

// taskflow._tenant_roles_changed() RETURNS trigger: statement trigger on taskflow.tenant_roles,
// so that any change of the mapping (not only grant_tenant / revoke_tenant: a restore, a
// superuser's own DML) drops the cached tenants, in this backend at once and everywhere at commit.
TF_FUNCTION(taskflow_tenant_roles_changed) {
  if (!CALLED_AS_TRIGGER(fcinfo)) {
    throw core::DomainError(core::ErrorCode::InvalidParameterValue,
                            "taskflow._tenant_roles_changed() is a trigger function");
  }
  pg::TenantMappingChanged();
  api::ForgetCallerTenant();
  return PointerGetDatum(nullptr);
}

// taskflow._tenants_changed() RETURNS trigger: statement trigger on taskflow.tenants. When the
// transaction commits, acquire() drops the RUNNING counts it keeps of limited tenants (a limit
// that was off let acquisitions through without a slot reservation).
TF_FUNCTION(taskflow_tenants_changed) {
  if (!CALLED_AS_TRIGGER(fcinfo)) {
    throw core::DomainError(core::ErrorCode::InvalidParameterValue,
                            "taskflow._tenants_changed() is a trigger function");
  }
  pg::TenantLimitsChanged();
  return PointerGetDatum(nullptr);
}
