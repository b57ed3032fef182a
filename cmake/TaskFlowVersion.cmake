# The release version has one home: default_version in taskflow.control (the extension's own
# version, which PostgreSQL reads). Make reads it there (EXTVERSION in the Makefile); CMake reads
# it here, so taskflow-worker --version, taskflow-http --version, the OpenAPI document, the
# CMake package and the pkg-config file say the same. test/t/release.t checks the files that
# cannot derive it (META.json, dashboard/package.json, CHANGELOG.md, examples in the docs).
#   include(<root>/cmake/TaskFlowVersion.cmake)   ->  TASKFLOW_VERSION, TASKFLOW_VERSION_HEADER_DIR
get_filename_component(_taskflow_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_taskflow_root}/taskflow.control")
file(STRINGS "${_taskflow_root}/taskflow.control" _taskflow_version_line
     REGEX "^default_version *= *'[0-9]+\\.[0-9]+\\.[0-9]+'")
string(REGEX REPLACE "^default_version *= *'([0-9.]+)'.*" "\\1" TASKFLOW_VERSION "${_taskflow_version_line}")
if(NOT TASKFLOW_VERSION MATCHES "^[0-9]+\\.[0-9]+\\.[0-9]+$")
  message(FATAL_ERROR "no default_version = 'X.Y.Z' in ${_taskflow_root}/taskflow.control")
endif()
string(REPLACE "." ";" _taskflow_version_parts "${TASKFLOW_VERSION}")
list(GET _taskflow_version_parts 0 TASKFLOW_VERSION_MAJOR_)
list(GET _taskflow_version_parts 1 TASKFLOW_VERSION_MINOR_)
list(GET _taskflow_version_parts 2 TASKFLOW_VERSION_PATCH_)
# taskflow/version.hpp (generated, installed with the library): TASKFLOW_VERSION "X.Y.Z".
set(TASKFLOW_VERSION_HEADER_DIR "${CMAKE_BINARY_DIR}/taskflow-generated/include")
configure_file("${CMAKE_CURRENT_LIST_DIR}/version.hpp.in"
               "${TASKFLOW_VERSION_HEADER_DIR}/taskflow/version.hpp" @ONLY)
