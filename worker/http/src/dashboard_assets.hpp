// The dashboard's files (dashboard/, built with Vite), compiled into the server by
// dashboard/embed.py at build time; served at / and /assets/* (docs/dashboard.md).
#pragma once

#include <cstddef>
#include <string>

namespace taskflow::http {

struct DashboardAsset {
  const char* path;  // "/index.html", "/assets/index-1a2b3c.js"
  const char* content_type;
  const unsigned char* data;
  std::size_t size;
  bool immutable;  // a content-hashed name: cached for a year
};

// The file at `path`, or nullptr.
const DashboardAsset* FindDashboardAsset(const std::string& path);

// False when the server was built without the dashboard (index.html then says so).
bool DashboardBuilt();

}  // namespace taskflow::http
