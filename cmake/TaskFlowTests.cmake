# taskflow_gtest_executable(TARGET PREFIX WARNINGS): the GoogleTest executable TARGET of the
# calling directory's tests/*.cpp, built with the warning flags in the list variable named by
# WARNINGS, its tests registered with ctest as PREFIX.<suite>.<test> (`ctest -R '^PREFIX\.'`
# selects them). The caller adds its include directories and libraries (GTest::gtest_main among
# them). Only with tests: the caller checks BUILD_TESTING (ON by default; -DBUILD_TESTING=OFF
# builds and installs without GoogleTest).
include_guard(GLOBAL)

function(taskflow_gtest_executable target prefix warnings)
  find_package(GTest REQUIRED)
  include(GoogleTest)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/*.cpp)
  add_executable(${target} ${sources})
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_compile_options(${target} PRIVATE ${${warnings}})
  gtest_discover_tests(${target} TEST_PREFIX "${prefix}." DISCOVERY_TIMEOUT 30)
endfunction()
