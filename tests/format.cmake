# The tree is laid out as .clang-format says (docs/architecture.md). Run by ctest as `format`:
#   cmake -DSRC=<repository root> -DCLANG_FORMAT=<clang-format> -P tests/format.cmake
# Skipped unless CLANG_FORMAT is version 14 (Debian 12's, which `make deps` installs): another
# version lays some constructs out differently. `make format` fixes what this reports.
cmake_minimum_required(VERSION 3.20)
if(NOT CLANG_FORMAT OR NOT EXISTS "${CLANG_FORMAT}")
  message("[format] skipped: clang-format is not installed")
  return()
endif()
execute_process(COMMAND ${CLANG_FORMAT} --version OUTPUT_VARIABLE version)
if(NOT version MATCHES "version 14\\.")
  string(STRIP "${version}" version)
  message("[format] skipped: ${version} is not clang-format 14")
  return()
endif()
set(files "")
foreach(dir fovea tools tests bench examples fuzz python)
  file(GLOB_RECURSE found ${SRC}/${dir}/*.h ${SRC}/${dir}/*.cpp ${SRC}/${dir}/*.cu ${SRC}/${dir}/*.cuh)
  list(APPEND files ${found})
endforeach()
execute_process(COMMAND ${CLANG_FORMAT} --style=file --dry-run --Werror ${files}
                WORKING_DIRECTORY ${SRC} RESULT_VARIABLE rc ERROR_VARIABLE out)
list(LENGTH files count)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "[format] files not laid out as .clang-format says (run `make format`):\n${out}")
endif()
message("[format] ${count} files laid out as .clang-format says")
