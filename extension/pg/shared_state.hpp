// Soft state shared by all backends in shared memory (lost on restart, which is harmless):
//  - fair-share passes per (queue group, tenant) for acquire()'s weighted round robin, so
//    concurrent acquirers need no row locks or writes to stay fair;
//  - a generation number of the role -> tenant mapping, so backends can cache their tenant.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace taskflow::pg {

// Called from _PG_init (shared memory is requested before the postmaster allocates it).
void InitSharedState();

// Reads the stored passes of `keys` (0 when unknown) and the queue group's virtual time.
void LoadPasses(const std::vector<std::uint64_t>& keys, std::uint64_t vtime_key,
                std::vector<double>* passes, double* vtime);
// Stores passes and raises the group's virtual time to `vtime` (never lowers it).
void StorePasses(const std::vector<std::uint64_t>& keys, const std::vector<double>& passes,
                 std::uint64_t vtime_key, double vtime);
std::uint64_t FlowKey(const std::string& group, const std::string& tenant);

// The tenant mapping's generation as this backend sees it: changes when a transaction that
// changed the mapping commits (any backend), or changes it or rolls it back (this backend).
std::uint64_t TenantGeneration();
// Marks the current transaction as changing the mapping (bump at commit).
void TenantMappingChanged();

}  // namespace taskflow::pg
