# Installs fovea into a temporary prefix, then configures, builds and runs a consumer project
# that finds it with find_package(fovea); then the same consumer against the build tree
# (-Dfovea_DIR=<build>, no install).
set(prefix ${WORK}/prefix)
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${prefix} RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install failed")
endif()

# Configures tests/install_consumer into WORK/<dir> with the given cache settings, builds it and
# runs the program; `what` names the case in errors.
function(build_and_run_consumer dir what)
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC}/tests/install_consumer -B ${WORK}/${dir} ${ARGN}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "configuring the consumer ${what} failed")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK}/${dir} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "building the consumer ${what} failed")
  endif()
  execute_process(COMMAND ${WORK}/${dir}/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "\\(1,8,8,8\\)")
    message(FATAL_ERROR "the consumer ${what} failed: ${out}")
  endif()
endfunction()

# as on a machine without CUDA: the package must not look for it
build_and_run_consumer(build "of the installed fovea" -DCMAKE_PREFIX_PATH=${prefix}
                       -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON)
# a CPU-only program, and libfovea itself, link no CUDA library (the CUDA backend is loaded at
# run time, only by programs that use a cuda device)
file(GLOB_RECURSE libfovea ${prefix}/libfovea.so)
if(NOT libfovea)
  message(FATAL_ERROR "the install holds no libfovea.so")
endif()
foreach(binary ${WORK}/build/consumer ${libfovea})
  execute_process(COMMAND readelf -d ${binary} OUTPUT_VARIABLE needed RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR needed MATCHES "libcuda|libcublas|libcudnn")
    message(FATAL_ERROR "${binary} must not need a CUDA library: ${needed}")
  endif()
endforeach()
build_and_run_consumer(from_build "against the build tree" -Dfovea_DIR=${BUILD})
