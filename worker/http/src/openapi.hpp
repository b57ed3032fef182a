// The OpenAPI 3.1 document served at /openapi.json. A unit test checks that it parses and lists
// exactly the routes of routes.cpp.
#pragma once

#include <string>

namespace taskflow::http {

const std::string& OpenApiDocument();

}  // namespace taskflow::http
