#include "core/errors.hpp"
#include "api/tenancy.hpp"
#include "pg/shared_state.hpp"
#include "pg/spi.hpp"

namespace taskflow::api {

using core::DomainError;
using core::ErrorCode;

namespace {

// Per-backend cache of the caller's tenant, valid for one role and one mapping generation.
struct Cache {
  bool valid = false;
  Oid role = InvalidOid;
  std::uint64_t generation = 0;
  std::optional<std::string> tenant;
};
Cache cache;

bool IsMemberOf(Oid role, const char* group) {
  return pg::PgCall([&] {
    Oid g = get_role_oid(group, true);
    return OidIsValid(g) && has_privs_of_role(role, g);
  });
}

}  // namespace

std::optional<std::string> CallerTenant() {
  Oid role = GetOuterUserId();
  std::uint64_t generation = pg::TenantGeneration();
  if (cache.valid && cache.role == role && cache.generation == generation) return cache.tenant;

  static pg::Statement mapped("SELECT tenant_id FROM taskflow.tenant_roles WHERE role_name = $1",
                              {NAMEOID});
  char* name = pg::PgCall([&] { return GetUserNameFromId(role, false); });
  Datum role_name = pg::PgCall([&] { return DirectFunctionCall1(namein, CStringGetDatum(name)); });
  pg::Params p;
  p.Add(role_name);
  std::optional<std::string> tenant;
  if (p.Run(mapped, true, 1) == 1) {
    tenant = pg::ResultRow(0).Text(1);
  } else {
    bool superuser = pg::PgCall([&] { return superuser_arg(role); });
    if (!superuser && !IsMemberOf(role, "taskflow_admin") && !IsMemberOf(role, "taskflow_worker")) {
      tenant = std::string("default");
    }
  }
  cache = {true, role, generation, tenant};
  return tenant;
}

std::string ResolveTenant(const std::optional<std::string>& requested) {
  std::optional<std::string> own = CallerTenant();
  if (!own) return requested.value_or("default");
  if (!requested || *requested == "default" || *requested == *own) return *own;
  throw DomainError(ErrorCode::InsufficientPrivilege,
                    "permission denied for tenant \"" + *requested + "\"",
                    "This role is confined to tenant \"" + *own +
                        "\"; omit tenant_id or pass its own tenant.");
}

void ForgetCallerTenant() { cache.valid = false; }

bool CallerMaySee(const std::string& tenant_id) {
  std::optional<std::string> own = CallerTenant();
  return !own || *own == tenant_id;
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
