# tests/fuzz/protocol.cmake -- libFuzzer targets for what bullpen reads from files and from
# the network: the config file, Redis URLs, RESP replies, job JSON, ctl messages, and a job's
# repeat.cron with the zone files it is evaluated in (fuzz_cron). Run
# them with tests/fuzz/run_protocol.sh, which loads this file through
# CMAKE_PROJECT_INCLUDE (so it works with or without an include() in
# tests/fuzz/CMakeLists.txt; the targets are defined once either way).
#
# Each target compiles the sources it exercises itself, with coverage and sanitizers, and
# takes everything else from the ordinary libraries (their archive members with the same
# symbols are then never pulled in).
if(TARGET fuzz_url OR NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  return()
endif()
set(BP_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
set(BP_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
  -fno-omit-frame-pointer)
file(GLOB BP_FUZZ_CONFIG_SRC CONFIGURE_DEPENDS ${BP_FUZZ_DIR}/../../config/*.c)
file(GLOB BP_FUZZ_QUEUE_SRC CONFIGURE_DEPENDS ${BP_FUZZ_DIR}/../../common/bp_queue*.c)
file(GLOB BP_FUZZ_CRON_SRC CONFIGURE_DEPENDS ${BP_FUZZ_DIR}/../../common/bp_cron*.c
  ${BP_FUZZ_DIR}/../../common/bp_tzif.c ${BP_FUZZ_DIR}/../../common/bp_jsnum.c)

function(bp_fuzz_target name)
  add_executable(${name} ${BP_FUZZ_DIR}/${name}.c ${ARGN})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fuzz)
  target_compile_options(${name} PRIVATE ${BP_FUZZ_FLAGS})
  target_link_options(${name} PRIVATE ${BP_FUZZ_FLAGS})
  target_link_libraries(${name} PRIVATE bp_master PkgConfig::LIBCONFIG)
endfunction()

bp_fuzz_target(fuzz_config ${BP_FUZZ_CONFIG_SRC})
bp_fuzz_target(fuzz_url ${BP_FUZZ_CONFIG_SRC})
bp_fuzz_target(fuzz_resp ${BP_FUZZ_QUEUE_SRC})
bp_fuzz_target(fuzz_job ${BP_FUZZ_QUEUE_SRC})
bp_fuzz_target(fuzz_ctl_msg ${BP_FUZZ_DIR}/../../master/bp_ctl_msg.c)
bp_fuzz_target(fuzz_cron ${BP_FUZZ_CRON_SRC})
bp_fuzz_target(fuzz_conn ${BP_FUZZ_DIR}/../../common/bp_conn.c ${BP_FUZZ_DIR}/../../common/bp_conn_open.c)
