# The layers read top-down (docs/architecture.md): every file under fovea/ includes only headers
# of its own folder or of the folders below it. Run by ctest as `layers`:
#   cmake -DSRC=<repository root> -P tests/layers.cmake
# A new folder gets a rank here and a line in docs/architecture.md.
cmake_minimum_required(VERSION 3.20)
set(rank_core 0)
set(rank_io 1)
set(rank_autograd 2)
set(rank_backend 3)
set(rank_ops 4)
set(rank_nn 5)
set(rank_onnx 6)
set(rank_optim 6)
set(rank_data 6)
set(rank_testing 6)
set(rank_models 7)
set(rank_analysis 8)
set(rank_explain 8)
set(rank_dist 8)
set(rank_train 9)
set(rank_report 10)

# The one exception (docs/architecture.md): Tensor's methods and the autograd engine's gradient
# sums are defined with the layers above them. Each entry is FILE>HEADER.
set(allowed
    "fovea/core/tensor.cpp>fovea/autograd/grad_mode.h"
    "fovea/core/tensor.cpp>fovea/autograd/node.h"
    "fovea/core/tensor.cpp>fovea/backend/backend.h"
    "fovea/core/tensor.cpp>fovea/ops/ops.h"
    "fovea/autograd/engine.cpp>fovea/ops/ops.h")

file(GLOB_RECURSE files RELATIVE ${SRC} ${SRC}/fovea/*.h ${SRC}/fovea/*.cpp ${SRC}/fovea/*.cu ${SRC}/fovea/*.cuh)
set(problems "")
foreach(f ${files})
  string(REGEX MATCH "^fovea/([a-z_]+)/" _ ${f})
  set(layer ${CMAKE_MATCH_1})
  if(NOT DEFINED rank_${layer})
    string(APPEND problems "\n  ${f}: folder '${layer}' has no rank in tests/layers.cmake")
    continue()
  endif()
  file(STRINGS ${SRC}/${f} includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]fovea/")
  foreach(line ${includes})
    string(REGEX MATCH "fovea/([a-z_]+)/[^\">]+" header "${line}")
    set(target ${CMAKE_MATCH_1})
    if(target STREQUAL layer OR "${f}>${header}" IN_LIST allowed)
      continue()
    endif()
    if(NOT DEFINED rank_${target})
      string(APPEND problems "\n  ${f}: includes ${header}, whose folder has no rank")
    elseif(NOT rank_${target} LESS rank_${layer})
      string(APPEND problems "\n  ${f}: includes ${header} (${target} is not below ${layer})")
    endif()
  endforeach()
endforeach()

list(LENGTH files count)
if(problems)
  message(FATAL_ERROR "[layers] a lower layer includes a higher one:${problems}")
endif()
message(STATUS "[layers] ${count} files under fovea/ include only their own layer or the layers below")
