# add_cmocka_test(NAME SOURCES...): one cmocka program, registered with CTest.
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

function(add_cmocka_test name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE fccore PkgConfig::CMOCKA)
  target_compile_definitions(${name} PRIVATE
    FC_TEST_DATA="${CMAKE_SOURCE_DIR}/tests/data")
  add_test(NAME unit/${name} COMMAND ${name})
  set_tests_properties(unit/${name} PROPERTIES LABELS unit TIMEOUT 120
    ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=stdout")
endfunction()
