// The OpenAPI 3.1 document served at /openapi.json. A unit test checks that it parses and lists
// exactly the routes of routes.cpp, and that POST /jobs's schema has the fields of
// core/schedule_fields.hpp.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace taskflow::http {

const std::string& OpenApiDocument();

// components.schemas.NewJob, POST /jobs's body: generated from core::kScheduleFields (name,
// JSON type, description, required when schedule() has no default) with the HTTP API's
// refinements (formats, bounds, $refs).
nlohmann::ordered_json NewJobSchema();

}  // namespace taskflow::http
